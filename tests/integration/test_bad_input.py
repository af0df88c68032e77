"""Bad input is a 4xx in the API's error shape, never a 500, end to end (local gateway -> ApiFunction ->
DynamoDB): bodies that are not UTF-8, nested too deep, numbers DynamoDB cannot store, lone surrogates,
ids with a trailing newline, and methods no route has (issue "hardening", item 7)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from local.client import Client
from local.gateway import Gateway

pytestmark = pytest.mark.two_targets  # conftest.py

LEAVE = {"days": 1, "start_date": "2026-12-01", "reason": "moving house"}
PURCHASE = {"amount": 10, "vendor": "acme-supplies", "cost_center": "cc-1"}
# Every route that takes a body, with a body it would take.
BODY_ROUTES = [
    ("/v1/flows/leave-request/approvals", {"input": LEAVE}),
    ("/v1/flows/leave-request/preview", {"input": LEAVE}),
    ("/v1/approvals/a1/decisions", {"step": "manager", "decision": "approve"}),
    ("/v1/approvals/a1/signers", {"step": "manager", "users": ["carol"], "position": "before"}),
    ("/v1/approvals/a1/transfer", {"step": "manager", "to": "carol"}),
    ("/v1/approvals/a1/return", {"step": "manager", "to_step": "requester"}),
    ("/v1/approvals/a1/resubmit", {"input": LEAVE}),
    ("/v1/approvals/a1/withdraw", {}),
    ("/v1/approvals/a1/remind", {}),
    ("/v1/approvals/a1/comments", {"text": "see attachment"}),
]


@pytest.fixture(scope="module")
def ann(api: Client) -> str:
    return api.token("ann")


def assert_refused(reply: Any, status: int = 400, code: str = "invalid_input") -> dict[str, Any]:
    """The error body of `reply`, after checking its status and that it is in the API's shape."""
    got, body, _ = reply
    assert got == status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["details"], list)
    assert "Error" not in json.dumps(body), body  # no Python exception named back
    error: dict[str, Any] = body["error"]
    return error


def fields(error: dict[str, Any]) -> set[str]:
    return {d["field"] for d in error["details"]}


@pytest.mark.parametrize(("path", "_"), BODY_ROUTES)
def test_a_body_that_is_not_utf8_is_400(path: str, _: Any, api: Client, ann: str, gateway: Gateway) -> None:
    # The local gateway hands a body that is not UTF-8 on base64-encoded, as API Gateway does binary.
    error = assert_refused(api.request("POST", path, b'{"text": "caf\xe9"}', token=ann))
    assert fields(error) == {"body"} and "UTF-8" in error["details"][0]["problem"]


@pytest.mark.parametrize(("path", "valid"), BODY_ROUTES)
def test_json_nested_10000_deep_is_400(path: str, valid: dict[str, Any], api: Client, ann: str) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    error = assert_refused(api.request("POST", path, json.dumps(valid)[:-1].encode() + b', "x": ' + deep.encode()
                                       + b"}", token=ann))
    assert fields(error) == {"body"} and "64" in error["details"][0]["problem"]


def test_an_integer_of_5000_digits_is_400(api: Client, ann: str) -> None:
    body = b'{"input": {"amount": ' + b"9" * 5000 + b', "vendor": "v", "cost_center": "c"}}'
    error = assert_refused(api.request("POST", "/v1/flows/purchase-order/approvals", body, token=ann))
    assert fields(error) == {"body"} and "digits" in error["details"][0]["problem"]
    body = b'{"step": "manager", "decision": "approve", "revision": ' + b"1" * 5000 + b"}"
    assert_refused(api.request("POST", "/v1/approvals/a1/decisions", body, token=ann))


@pytest.mark.parametrize("amount", ["1e200", "1e-200", "1" + "0" * 38, "123456789012345678901234567890123456789",
                                    "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("route", ["approvals", "preview"])
def test_numbers_dynamodb_cannot_store_are_400_naming_the_field(amount: str, route: str, api: Client,
                                                                ann: str) -> None:
    body = json.dumps({"input": {**PURCHASE, "amount": 0}}).replace('"amount": 0', f'"amount": {amount}')
    reply = api.request("POST", f"/v1/flows/purchase-order/{route}", body.encode(), token=ann)
    error = assert_refused(reply)
    assert fields(error) <= {"amount", "body"} and fields(error), error  # NaN/Infinity are not JSON at all
    if amount[0].isdigit():
        assert fields(error) == {"amount"}


def test_numbers_dynamodb_can_store_are_accepted(api: Client, ann: str) -> None:
    for amount in ("9.9e125", "1e-130", "12345678901234567890123456789012345678", "0.1", "0"):
        body = json.dumps({"input": {**PURCHASE, "amount": 0}}).replace('"amount": 0', f'"amount": {amount}')
        status, answer, _ = api.request("POST", "/v1/flows/purchase-order/preview", body.encode(), token=ann)
        assert status == 200, (amount, answer)


def test_a_value_nested_deeper_than_dynamodb_stores_is_400(api: Client, ann: str) -> None:
    nested: Any = "x"
    for _ in range(40):  # DynamoDB stores 32 levels at most
        nested = [nested]
    body = {"input": {**PURCHASE, "vendor": nested}}
    error = assert_refused(api.request("POST", "/v1/flows/purchase-order/approvals", body, token=ann))
    assert all(field.startswith("vendor[0]") for field in fields(error)) and fields(error), error


@pytest.mark.parametrize("route", ["approvals", "preview"])
def test_a_lone_surrogate_is_400_naming_the_field(route: str, api: Client, ann: str) -> None:
    body = json.dumps({"input": {**LEAVE, "reason": "x"}}).replace('"reason": "x"', '"reason": "a\\ud800b"')
    error = assert_refused(api.request("POST", f"/v1/flows/leave-request/{route}", body.encode(), token=ann))
    assert fields(error) == {"reason"}
    assert "Unicode" not in error["message"] and "surrogates not allowed" not in json.dumps(error)


def test_a_lone_surrogate_in_a_field_name_is_400(api: Client, ann: str) -> None:
    body = json.dumps({"input": {**LEAVE, "x": 1}}).replace('"x": 1', '"\\udc80": 1')
    error = assert_refused(api.request("POST", "/v1/flows/leave-request/approvals", body.encode(), token=ann))
    assert len(error["details"]) == 1
    json.dumps(error, ensure_ascii=False).encode("utf-8")  # what names the field is valid text itself


def test_lone_surrogates_in_the_other_fields_are_400(api: Client, ann: str) -> None:
    body = b'{"text": "\\udfff"}'
    error = assert_refused(api.request("POST", "/v1/approvals/a1/comments", body, token=ann))
    assert fields(error) == {"text"}


def test_ids_with_a_trailing_newline_are_refused(api: Client, ann: str, gateway: Gateway) -> None:
    status, body, _ = api.request("POST", "/_local/token", {"user": "ann\n", "tenant": "acme"})
    assert status == 400 and fields(body["error"]) == {"user"}
    status, body, _ = api.request("POST", "/_local/token", {"user": "ann", "tenant": "acme\n"})
    assert status == 400 and fields(body["error"]) == {"tenant"}
    started = api.request("POST", "/v1/flows/leave-request/approvals", {"input": LEAVE}, token=ann)
    assert started.status == 201, started.body
    approval_id = started.body["id"]
    assert api.request("GET", f"/v1/approvals/{approval_id}", token=ann).status == 200
    for path in (f"/v1/approvals/{approval_id}%0A", f"/v1/approvals/{approval_id}%0A/history", "/v1/inbox%0A",
                 f"/v1/approvals/{approval_id}%0A/decisions"):
        method = "POST" if path.endswith("decisions") else "GET"
        assert_refused(api.request(method, path, {"step": "manager", "decision": "approve"} if method == "POST"
                                   else None, token=ann), 404, "not_found")


def raw(gateway: Gateway, method: str, path: str, token: str | None = None) -> tuple[int, Any]:
    """One request with any method (urllib sends what it is given); the status and the parsed body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(gateway.url + path, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    return status, json.loads(data) if data else None


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE", "TRACE", "CONNECT", "PROPFIND", "FOO", "OPTIONS"])
@pytest.mark.parametrize("path", ["/v1/inbox", "/v1/approvals/a1", "/v1/health", "/nowhere"])
def test_methods_no_route_has_are_404_in_the_apis_shape(method: str, path: str, gateway: Gateway, ann: str) -> None:
    status, body = raw(gateway, method, path, token=ann)
    assert_refused((status, body, {}), 404, "not_found")
    if path != "/v1/health":
        status, body = raw(gateway, method, path)
        assert_refused((status, body, {}), 401, "unauthorized")


def test_head_is_answered_without_a_body(gateway: Gateway, ann: str) -> None:
    assert raw(gateway, "HEAD", "/v1/inbox", token=ann) == (404, None)


def test_the_gateways_own_refusals_are_in_the_shape(gateway: Gateway, api: Client) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    error = assert_refused(api.request("POST", "/_local/token", deep))
    assert fields(error) == {"body"}
    error = assert_refused(api.request("POST", "/_local/token", b"\xff\xfe"))
    assert fields(error) == {"body"}

