"""Every error in the one shape of api.md, each domain error mapped to its status once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from approvals.domain import (
    AlreadyDecided,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    StaleRevision,
    StepNotOpen,
    UnknownUser,
)

from .conftest import FakeService

Call = Callable[..., tuple[int, Any]]
DECIDE = ("POST", "/v1/approvals/a1/decisions", {"step": "manager", "decision": "approve"})


def assert_error_shape(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)


@pytest.mark.parametrize(("error", "status", "code"), [
    (NotFound("approval a1 not found"), 404, "not_found"),
    (NotAllowed("bob is not an assignee of manager"), 403, "not_allowed"),
    (StepNotOpen("step manager is not open"), 409, "conflict"),
    (AlreadyDecided("bob already decided"), 409, "conflict"),
    (StaleRevision("at revision 4, not 3"), 409, "conflict"),
    (Conflict("approval finished"), 409, "conflict"),
    (InvalidInput("bad"), 400, "invalid_input"),
])
def test_domain_errors(error: Exception, status: int, code: str, call: Call, fake_service: FakeService) -> None:
    fake_service.answer("decide", error)
    got_status, body = call(*DECIDE)
    assert got_status == status
    assert_error_shape(body, code)
    assert body["error"]["message"] == str(error)


def test_invalid_input_details_are_passed_on(call: Call, fake_service: FakeService) -> None:
    error = InvalidInput("input is not valid", [{"field": "days", "problem": "must be at least 0.5"}])
    fake_service.answer("start_approval", error)
    status, body = call("POST", "/v1/flows/leave-request/approvals", {"input": {"days": 0}})
    assert status == 400
    assert body["error"]["details"] == [{"field": "days", "problem": "must be at least 0.5"}]


def test_unknown_user_names_the_user(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("transfer", UnknownUser("zed", field="to"))
    status, body = call("POST", "/v1/approvals/a1/transfer", {"step": "manager", "to": "zed"})
    assert status == 400
    assert_error_shape(body, "invalid_input")
    assert body["error"]["details"][0]["field"] == "to" and "zed" in body["error"]["details"][0]["problem"]


def test_body_validation_lists_every_field(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/approvals/a1/decisions", {"step": "", "decision": "maybe", "extra": 1})
    assert status == 400
    assert_error_shape(body, "invalid_input")
    fields = {d["field"] for d in body["error"]["details"]}
    assert fields == {"step", "decision", "extra"}
    assert all(d["problem"] for d in body["error"]["details"])
    assert fake_service.calls == []


def test_missing_fields_and_nested_fields(call: Call) -> None:
    status, body = call("POST", "/v1/approvals/a1/signers", {"step": "manager", "users": [""], "position": "x"})
    assert status == 400
    assert {d["field"] for d in body["error"]["details"]} == {"users.0", "position"}
    status, body = call("POST", "/v1/flows/leave-request/approvals", {})
    assert (status, body["error"]["details"][0]["field"]) == (400, "input")


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2", '"just a string"', "null"])
def test_malformed_or_wrong_json_is_400_not_500(raw: str, call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/approvals/a1/decisions", raw or None)
    assert status == 400
    assert_error_shape(body, "invalid_input")
    assert body["error"]["details"]


def test_malformed_json_says_so(call: Call) -> None:
    status, body = call("POST", "/v1/approvals/a1/decisions", "{not json")
    assert status == 400
    assert body["error"]["details"][0]["field"] == "body"
    assert body["error"]["details"][0]["problem"].startswith("malformed JSON")


def test_bad_path_parameters_are_400(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/flows/Not_A_Flow!/approvals", {"input": {}})
    assert status == 400
    assert body["error"]["details"][0]["field"] == "flow"


def test_bad_idempotency_key_is_400_naming_the_header(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/flows/leave-request/approvals", {"input": {}},
                        headers={"Idempotency-Key": "k" * 201})
    assert status == 400
    assert body["error"]["details"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_400(content_type: str, call: Call, fake_service: FakeService) -> None:
    # what curl -d sends without -H 'Content-Type: application/json'
    status, body = call("POST", "/v1/approvals/a1/decisions", '{"step": "manager", "decision": "approve"}',
                        headers={"Content-Type": content_type})
    assert status == 400
    assert_error_shape(body, "invalid_input")
    assert body["error"]["details"] == [{"field": "Content-Type", "problem": "must be application/json"}]
    assert fake_service.calls == []


def test_json_with_a_charset_is_json(call: Call, fake_service: FakeService) -> None:
    status, _ = call("POST", "/v1/approvals/a1/decisions", {"step": "manager", "decision": "approve"},
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 200


def test_unknown_route_is_404_in_the_shape(call: Call) -> None:
    status, body = call("GET", "/v1/nothing-here")
    assert status == 404
    assert_error_shape(body, "not_found")


def test_our_bug_is_500_without_a_stack_trace(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("decide", KeyError("internal detail /work/main/x.py"))
    status, body = call(*DECIDE)
    assert status == 500
    assert_error_shape(body, "internal")
    assert "x.py" not in str(body) and "Traceback" not in str(body)
