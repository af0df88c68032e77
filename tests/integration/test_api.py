"""The HTTP API end to end: urllib -> local gateway (JWT check) -> moto Lambda invoke ->
ApiFunction in-process -> DynamoDB / Step Functions in moto, and each error of api.md."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.gateway import Gateway
from local.stack import LocalStack

LEAVE = {"days": 1, "start_date": "2026-12-01", "reason": "moving house"}
Reply = tuple[int, Any, dict[str, str]]


@pytest.fixture(scope="module")
def gateway(stack: LocalStack) -> Iterator[Gateway]:
    with Gateway(stack, port=0, quiet=True) as running:
        yield running


def send(gateway: Gateway, method: str, path: str, body: Any = None, *, token: str | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(gateway.url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers)
    return status, json.loads(raw) if raw and got.get("Content-Type", "").startswith("application/json") else raw, got


@pytest.fixture(scope="module")
def token(gateway: Gateway) -> Callable[..., str]:
    """A token from POST /_local/token, as a client would get one."""

    def get(user: str, tenant: str = "acme") -> str:
        status, body, _ = send(gateway, "POST", "/_local/token", {"user": user, "tenant": tenant})
        assert status == 200, body
        return str(body["token"])

    return get


def until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        time.sleep(0.1)


def start_leave(gateway: Gateway, token: str, **headers: str) -> dict[str, Any]:
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals", {"input": LEAVE}, token=token,
                           headers=headers)
    assert status == 201, body
    return dict(body)


def waiting_in_inbox(gateway: Gateway, token: str, approval_id: str, step: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status, items, _ = send(gateway, "GET", "/v1/inbox", token=token)
        assert status == 200, items
        return next((i for i in items if i["approval_id"] == approval_id and i["step"] == step), None)

    found: dict[str, Any] = until(check, f"{step} of {approval_id} in the inbox")
    return found


@pytest.fixture(scope="module")
def approved(gateway: Gateway, token: Callable[..., str]) -> dict[str, Any]:
    """A leave request taken from start to approved through the API only."""
    ann, bob, ivy = token("ann"), token("bob"), token("ivy")
    started = start_leave(gateway, ann)
    assert (started["status"], started["requester"], started["flow"]) == ("running", "ann", "leave-request")
    approval_id = started["id"]

    item = waiting_in_inbox(gateway, bob, approval_id, "manager")
    assert (item["flow"], item["requester"]) == ("leave-request", "ann")
    status, after, _ = send(gateway, "POST", f"/v1/approvals/{approval_id}/decisions",
                            {"step": "manager", "decision": "approve", "comment": "enjoy"}, token=bob)
    assert status == 200, after
    manager = next(s for s in after["steps"] if s["step"] == "manager")
    assert manager["status"] == "approved"
    assert manager["decisions"][0]["user"] == "bob" and manager["decisions"][0]["comment"] == "enjoy"

    waiting_in_inbox(gateway, ivy, approval_id, "hr")  # the HR step runs for every leave request
    status, after, _ = send(gateway, "POST", f"/v1/approvals/{approval_id}/decisions",
                            {"step": "hr", "decision": "approve"}, token=ivy)
    assert status == 200, after

    def finished() -> dict[str, Any] | None:
        status, body, _ = send(gateway, "GET", f"/v1/approvals/{approval_id}", token=ann)
        assert status == 200, body
        return body if body["status"] != "running" else None

    final: dict[str, Any] = until(finished, f"{approval_id} finished")
    return final


def test_public_routes_need_no_token(gateway: Gateway) -> None:
    assert send(gateway, "GET", "/v1/health")[:2] == (200, {"status": "ok"})
    status, document, _ = send(gateway, "GET", "/openapi.json")
    assert status == 200 and "/v1/approvals/{approval_id}/decisions" in document["paths"]
    status, page, headers = send(gateway, "GET", "/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")


def test_leave_request_through_the_api(approved: dict[str, Any], gateway: Gateway, token: Callable[..., str]) -> None:
    assert approved["status"] == "approved"
    ran = {s["step"]: s["status"] for s in approved["steps"] if s["status"] != "skipped"}  # director: 1 day
    assert ran == {"manager": "approved", "hr": "approved"}
    status, history, _ = send(gateway, "GET", f"/v1/approvals/{approved['id']}/history", token=token("ann"))
    assert status == 200
    types = [e["type"] for e in history["events"]]
    assert types[0] == "Approval Started" and types.count("Decision Recorded") == 2
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(history["events"], history["events"][1:], strict=False))
    status, inbox, _ = send(gateway, "GET", "/v1/inbox", token=token("bob"))
    assert status == 200 and all(i["approval_id"] != approved["id"] for i in inbox)


def test_same_idempotency_key_same_approval(gateway: Gateway, token: Callable[..., str], stack: LocalStack) -> None:
    ann = token("ann")
    first = start_leave(gateway, ann, **{"Idempotency-Key": "leave-2026-12"})
    again = start_leave(gateway, ann, **{"Idempotency-Key": "leave-2026-12"})
    assert again["id"] == first["id"]
    # The key is the caller's own: dave using the same one starts his own approval.
    other = start_leave(gateway, token("dave"), **{"Idempotency-Key": "leave-2026-12"})
    assert other["id"] != first["id"] and other["requester"] == "dave"
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals", {"input": {**LEAVE, "days": 2}},
                           token=ann, headers={"Idempotency-Key": "leave-2026-12"})
    assert status == 400 and body["error"]["details"][0]["field"] == "Idempotency-Key"
    # The records live in the approvals table, under the tenant's own partition.
    assert stack.deployment is not None
    records = stack.client("dynamodb").query(
        TableName=stack.deployment.table_name, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "T#acme#IDEMPOTENCY"}})["Items"]
    assert len(records) == 2 and all(r["status"]["S"] == "COMPLETED" for r in records)


def test_400_bad_body_names_the_fields(gateway: Gateway, token: Callable[..., str]) -> None:
    ann = token("ann")
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals",
                           {"input": {"days": "lots"}}, token=ann)
    assert status == 400 and body["error"]["code"] == "invalid_input"
    assert {"days", "start_date"} <= {d["field"] for d in body["error"]["details"]}
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals", {"inputs": {}}, token=ann)
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {"input", "inputs"}
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals", b"{oops", token=ann)
    assert status == 400 and body["error"]["details"][0]["field"] == "body"


def test_401_without_a_valid_token(gateway: Gateway, token: Callable[..., str]) -> None:
    good = token("ann")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = gateway.issue_token("ann", "acme", seconds=-60)
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": f"Bearer {expired}"},
                    {"Authorization": good}, {"Authorization": "Bearer"}):
        status, body, _ = send(gateway, "GET", "/v1/inbox", headers=headers)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), headers
    # A token in the URL is not a token.
    assert send(gateway, "GET", f"/v1/inbox?access_token={good}")[0] == 401
    status, body, _ = send(gateway, "POST", "/_local/token", {"user": "ann"})
    assert status == 400 and body["error"]["details"][0]["field"] == "tenant"


def test_403_for_someone_not_on_the_step(gateway: Gateway, token: Callable[..., str]) -> None:
    ann = token("ann")
    approval_id = start_leave(gateway, ann)["id"]
    waiting_in_inbox(gateway, token("bob"), approval_id, "manager")
    # ann may see her request but is not its manager step's assignee
    status, body, _ = send(gateway, "POST", f"/v1/approvals/{approval_id}/decisions",
                           {"step": "manager", "decision": "approve"}, token=ann)
    assert (status, body["error"]["code"]) == (403, "not_allowed")
    # someone with no part in it is not told it exists
    status, body, _ = send(gateway, "POST", f"/v1/approvals/{approval_id}/decisions",
                           {"step": "manager", "decision": "approve"}, token=token("erin"))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_404_for_another_tenants_approval(approved: dict[str, Any], gateway: Gateway,
                                          token: Callable[..., str]) -> None:
    outsider = token("ann", tenant="globex")  # same user name, another tenant
    for method, path, body in (("GET", f"/v1/approvals/{approved['id']}", None),
                               ("GET", f"/v1/approvals/{approved['id']}/history", None),
                               ("POST", f"/v1/approvals/{approved['id']}/decisions",
                                {"step": "manager", "decision": "approve"})):
        status, answer, _ = send(gateway, method, path, body, token=outsider)
        assert (status, answer["error"]["code"]) == (404, "not_found"), path
    status, answer, _ = send(gateway, "GET", "/v1/approvals/doesnotexist", token=token("ann"))
    assert (status, answer["error"]["code"]) == (404, "not_found")


def test_409_deciding_a_closed_step(approved: dict[str, Any], gateway: Gateway, token: Callable[..., str]) -> None:
    status, body, _ = send(gateway, "POST", f"/v1/approvals/{approved['id']}/decisions",
                           {"step": "manager", "decision": "reject"}, token=token("bob"))
    assert (status, body["error"]["code"]) == (409, "conflict")


def test_413_body_over_256_kib(gateway: Gateway, token: Callable[..., str]) -> None:
    big = {"input": {**LEAVE, "reason": "x" * (256 * 1024)}}
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/approvals", big, token=token("ann"))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_preview_shows_who_would_be_asked(gateway: Gateway, token: Callable[..., str]) -> None:
    ann = token("ann")
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/preview",
                           {"input": {**LEAVE, "days": 5}}, token=ann)
    assert status == 200, body
    steps = {s["step"]: s for s in body["steps"]}
    assert [s["step"] for s in body["steps"]] == ["manager", "director", "hr"]
    assert steps["manager"]["runs"] and steps["manager"]["approvers"] == ["bob"]
    assert steps["director"]["runs"]  # days > 3
    status, body, _ = send(gateway, "POST", "/v1/flows/leave-request/preview", {"input": LEAVE}, token=ann)
    assert status == 200 and {s["step"]: s["runs"] for s in body["steps"]}["director"] is False
    status, body, _ = send(gateway, "POST", "/v1/flows/no-such-flow/preview", {"input": {}}, token=ann)
    assert (status, body["error"]["code"]) == (404, "not_found")
