"""The HTTP API end to end: urllib -> local gateway (JWT check) -> Lambda invoke -> ApiFunction ->
DynamoDB / Step Functions, and each error of api.md. Locally all of it is in-process moto; with
APPROVALS_TARGET set, the function and everything behind it are the deployed stack's (conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.client import Client, chain_links
from local.deployed import DeployedStack
from local.gateway import Gateway

pytestmark = pytest.mark.two_targets  # conftest.py

LEAVE = {"days": 1, "start_date": "2026-12-01", "reason": "moving house"}


@pytest.fixture(scope="module")
def token(api: Client) -> Callable[..., str]:
    """A token from POST /_local/token, as a client would get one."""

    def get(user: str, tenant: str = "acme") -> str:
        return api.token(user, tenant)

    return get


def start_leave(api: Client, token: str, **headers: str) -> dict[str, Any]:
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", {"input": LEAVE}, token=token,
                                  headers=headers)
    assert status == 201, body
    return dict(body)


@pytest.fixture(scope="module")
def approved(api: Client, token: Callable[..., str]) -> dict[str, Any]:
    """A leave request taken from start to approved through the API only."""
    ann, bob, ivy = token("ann"), token("bob"), token("ivy")
    started = start_leave(api, ann)
    assert (started["status"], started["requester"], started["flow"]) == ("running", "ann", "leave-request")
    approval_id = started["id"]

    item = api.wait_for_inbox("bob", approval_id, "manager")
    assert (item["flow"], item["requester"]) == ("leave-request", "ann")
    status, after, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                   {"step": "manager", "decision": "approve", "comment": "enjoy"}, token=bob)
    assert status == 200, after
    manager = next(s for s in after["steps"] if s["step"] == "manager")
    assert manager["status"] == "approved"
    assert manager["decisions"][0]["user"] == "bob" and manager["decisions"][0]["comment"] == "enjoy"

    api.wait_for_inbox("ivy", approval_id, "hr")  # the HR step runs for every leave request
    status, after, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                   {"step": "hr", "decision": "approve"}, token=ivy)
    assert status == 200, after

    return api.wait_for_status(approval_id, "approved", as_user="ann")


def test_public_routes_need_no_token(api: Client) -> None:
    assert api.request("GET", "/v1/health")[:2] == (200, {"status": "ok"})
    status, document, _ = api.request("GET", "/openapi.json")
    assert status == 200 and "/v1/approvals/{approval_id}/decisions" in document["paths"]
    status, page, headers = api.request("GET", "/docs")
    assert status == 200 and headers["Content-Type"].startswith("text/html")


def test_leave_request_through_the_api(approved: dict[str, Any], api: Client, token: Callable[..., str]) -> None:
    assert approved["status"] == "approved"
    ran = {s["step"]: s["status"] for s in approved["steps"] if s["status"] != "skipped"}  # director: 1 day
    assert ran == {"manager": "approved", "hr": "approved"}
    status, history, _ = api.request("GET", f"/v1/approvals/{approved['id']}/history", token=token("ann"))
    assert status == 200
    types = [e["type"] for e in history["events"]]
    assert types[0] == "Approval Started" and types.count("Decision Recorded") == 2
    assert chain_links(history)
    status, inbox, _ = api.request("GET", "/v1/inbox", token=token("bob"))
    assert status == 200 and all(i["approval_id"] != approved["id"] for i in inbox)


def test_same_idempotency_key_same_approval(api: Client, token: Callable[..., str], stack: DeployedStack) -> None:
    def records() -> list[dict[str, Any]]:
        # The records live in the approvals table, under the tenant's own partition.
        found: list[dict[str, Any]] = stack.client("dynamodb").query(
            TableName=stack.deployed.table_name, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "T#acme#IDEMPOTENCY"}})["Items"]
        return found

    before = {r["sk"]["S"] for r in records()}
    key = f"leave-{uuid.uuid4().hex[:12]}"  # new on every run: a deployed stack keeps earlier runs' records
    ann = token("ann")
    first = start_leave(api, ann, **{"Idempotency-Key": key})
    again = start_leave(api, ann, **{"Idempotency-Key": key})
    assert again["id"] == first["id"]
    # The key is the caller's own: dave using the same one starts his own approval.
    other = start_leave(api, token("dave"), **{"Idempotency-Key": key})
    assert other["id"] != first["id"] and other["requester"] == "dave"
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", {"input": {**LEAVE, "days": 2}},
                                  token=ann, headers={"Idempotency-Key": key})
    assert status == 400 and body["error"]["details"][0]["field"] == "Idempotency-Key"
    added = [r for r in records() if r["sk"]["S"] not in before]
    assert len(added) == 2 and all(r["status"]["S"] == "COMPLETED" for r in added)


def test_400_bad_body_names_the_fields(api: Client, token: Callable[..., str]) -> None:
    ann = token("ann")
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals",
                                  {"input": {"days": "lots"}}, token=ann)
    assert status == 400 and body["error"]["code"] == "invalid_input"
    assert {"days", "start_date"} <= {d["field"] for d in body["error"]["details"]}
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", {"inputs": {}}, token=ann)
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {"input", "inputs"}
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", b"{oops", token=ann)
    assert status == 400 and body["error"]["details"][0]["field"] == "body"


def test_401_without_a_valid_token(api: Client, token: Callable[..., str]) -> None:
    good = token("ann")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": good}, {"Authorization": "Bearer"}):
        status, body, _ = api.request("GET", "/v1/inbox", headers=headers)
        # Deployed, API Gateway answers these itself, in the same shape (template.yaml, GatewayResponses).
        assert (status, body["error"]["code"]) == (401, "unauthorized"), headers
    # A token in the URL is not a token.
    assert api.request("GET", f"/v1/inbox?access_token={good}")[0] == 401


def test_401_for_an_expired_token_of_the_local_gateway(api: Client, gateway: Gateway) -> None:
    expired = gateway.issue_token("ann", "acme", seconds=-60)
    status, body, _ = api.request("GET", "/v1/inbox", headers={"Authorization": f"Bearer {expired}"})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body, _ = api.request("POST", "/_local/token", {"user": "ann"})
    assert status == 400 and body["error"]["details"][0]["field"] == "tenant"


def test_403_for_someone_not_on_the_step(api: Client, token: Callable[..., str]) -> None:
    ann = token("ann")
    approval_id = start_leave(api, ann)["id"]
    api.wait_for_inbox("bob", approval_id, "manager")
    # ann may see her request but is not its manager step's assignee
    status, body, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                  {"step": "manager", "decision": "approve"}, token=ann)
    assert (status, body["error"]["code"]) == (403, "not_allowed")
    # someone with no part in it is not told it exists
    status, body, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                  {"step": "manager", "decision": "approve"}, token=token("erin"))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_404_for_another_tenants_approval(approved: dict[str, Any], api: Client,
                                          token: Callable[..., str]) -> None:
    outsider = token("ann", tenant="globex")  # same user name, another tenant
    for method, path, body in (("GET", f"/v1/approvals/{approved['id']}", None),
                               ("GET", f"/v1/approvals/{approved['id']}/history", None),
                               ("POST", f"/v1/approvals/{approved['id']}/decisions",
                                {"step": "manager", "decision": "approve"})):
        status, answer, _ = api.request(method, path, body, token=outsider)
        assert (status, answer["error"]["code"]) == (404, "not_found"), path
    status, answer, _ = api.request("GET", "/v1/approvals/doesnotexist", token=token("ann"))
    assert (status, answer["error"]["code"]) == (404, "not_found")


def test_409_deciding_a_closed_step(approved: dict[str, Any], api: Client, token: Callable[..., str]) -> None:
    status, body, _ = api.request("POST", f"/v1/approvals/{approved['id']}/decisions",
                                  {"step": "manager", "decision": "reject"}, token=token("bob"))
    assert (status, body["error"]["code"]) == (409, "conflict")


def test_413_body_over_256_kib(api: Client, token: Callable[..., str]) -> None:
    big = {"input": {**LEAVE, "reason": "x" * (256 * 1024)}}
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", big, token=token("ann"))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_preview_shows_who_would_be_asked(api: Client, token: Callable[..., str]) -> None:
    ann = token("ann")
    status, body, _ = api.request("POST", "/v1/flows/leave-request/preview",
                                  {"input": {**LEAVE, "days": 5}}, token=ann)
    assert status == 200, body
    steps = {s["step"]: s for s in body["steps"]}
    assert [s["step"] for s in body["steps"]] == ["manager", "director", "hr"]
    assert steps["manager"]["runs"] and steps["manager"]["approvers"] == ["bob"]
    assert steps["director"]["runs"]  # days > 3
    status, body, _ = api.request("POST", "/v1/flows/leave-request/preview", {"input": LEAVE}, token=ann)
    assert status == 200 and {s["step"]: s["runs"] for s in body["steps"]}["director"] is False
    status, body, _ = api.request("POST", "/v1/flows/no-such-flow/preview", {"input": {}}, token=ann)
    assert (status, body["error"]["code"]) == (404, "not_found")
