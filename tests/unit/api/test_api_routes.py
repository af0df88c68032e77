"""Each route hands the service the verified caller and the validated body, and answers with
the status and shape of api.md."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from approvals.domain import TooSoon
from approvals.handlers import api as api_handler

from .conftest import Context, FakeService, make_event

Call = Callable[..., tuple[int, Any]]
APPROVAL_KEYS = {"id", "flow", "flow_version", "status", "requester", "input", "revision", "created_at",
                 "updated_at", "steps"}
STEP_KEYS = {"step", "status", "mode", "assignees", "decisions", "opened_at", "deadline"}


def test_list_flows_for_the_callers_tenant(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("list_flows", [{"flow": "leave-request", "version": 1, "title": "Leave request"}])
    assert call("GET", "/v1/flows") == (200, [{"flow": "leave-request", "version": 1, "title": "Leave request"}])
    assert fake_service.last("list_flows")[0] == ("acme",)


def test_start_is_201_with_the_approval(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/flows/leave-request/approvals", {"input": {"days": 1}})
    assert status == 201
    args, _ = fake_service.last("start_approval")
    assert args == ("acme", "leave-request", None, "ann", {"days": 1})
    assert fake_service.last("get_approval")[0] == ("acme", "a1", "ann")
    assert set(body) == APPROVAL_KEYS
    assert set(body["steps"][0]) == STEP_KEYS
    assert body["steps"][0]["decisions"] == [
        {"user": "dave", "acting_for": "bob", "decision": "approve", "comment": "ok", "at": "2026-12-01T00:00:00.000Z"}]
    assert "secret" not in json.dumps(body)  # the task token stays inside


def test_caller_comes_from_the_authorizer_never_the_body(call: Call, fake_service: FakeService) -> None:
    status, _ = call("POST", "/v1/approvals/a1/decisions", {"step": "manager", "decision": "approve", "user": "bob"})
    assert status == 400  # `user` is not a field of the body
    status, _ = call("POST", "/v1/approvals/a1/decisions", {"step": "manager", "decision": "approve"},
                     claims={"sub": "bob", "custom:tenant": "acme"})
    assert status == 200
    assert fake_service.last("decide")[0][:4] == ("acme", "a1", "manager", "bob")


def test_lambda_authorizer_shape(call: Call, fake_service: FakeService) -> None:
    status, _ = call("GET", "/v1/approvals/a1", claims=None, authorizer={"sub": "kate", "tenant": "globex"})
    assert status == 200
    assert fake_service.last("get_approval")[0] == ("globex", "a1", "kate")


@pytest.mark.parametrize(("path", "body", "name", "args", "kwargs"), [
    ("decisions", {"step": "manager", "decision": "reject", "comment": "no", "revision": 3},
     "decide", ("acme", "a1", "manager", "ann", "reject", "no"), {"revision": 3}),
    ("decisions", {"step": "manager", "decision": "approve"},
     "decide", ("acme", "a1", "manager", "ann", "approve", None), {"revision": None}),
    ("signers", {"step": "manager", "users": ["carol", "dave"], "position": "before"},
     "add_signers", ("acme", "a1", "manager", "ann", ["carol", "dave"], "before"), {"revision": None}),
    ("transfer", {"step": "manager", "to": "dave", "revision": 2},
     "transfer", ("acme", "a1", "manager", "ann", "dave"), {"revision": 2}),
    ("return", {"step": "hr", "to_step": "requester"},
     "return_step", ("acme", "a1", "hr", "ann", "requester"), {"revision": None}),
    ("resubmit", {"input": {"days": 2}}, "resubmit", ("acme", "a1", "ann", {"days": 2}), {"revision": None}),
    ("withdraw", {}, "withdraw", ("acme", "a1", "ann"), {"revision": None}),
    ("withdraw", {"revision": 5}, "withdraw", ("acme", "a1", "ann"), {"revision": 5}),
    ("withdraw", None, "withdraw", ("acme", "a1", "ann"), {"revision": None}),
])
def test_actions_call_the_service(
    path: str, body: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], call: Call,
    fake_service: FakeService,
) -> None:
    status, answer = call("POST", f"/v1/approvals/a1/{path}", body)
    assert status == 200, answer
    assert fake_service.last(name) == (args, kwargs)
    assert set(answer) == APPROVAL_KEYS


def test_revision_must_be_positive(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/approvals/a1/withdraw", {"revision": 0})
    assert (status, body["error"]["details"][0]["field"]) == (400, "revision")


def test_remind_is_202(call: Call, fake_service: FakeService) -> None:
    assert call("POST", "/v1/approvals/a1/remind", {}) == (202, {"status": "accepted"})
    assert fake_service.last("remind")[0] == ("acme", "a1", "ann")


def test_remind_too_soon_is_429_with_retry_after(fake_service: FakeService) -> None:
    fake_service.answer("remind", TooSoon("reminded a minute ago", retry_after=3540))
    from approvals.api import app

    response = app.resolve(make_event("POST", "/v1/approvals/a1/remind", {}), Context())  # type: ignore[arg-type]
    assert response["statusCode"] == 429
    assert json.loads(response["body"])["error"]["code"] == "rate_limited"
    assert response["multiValueHeaders"]["Retry-After"] == ["3540"]


def test_comment_is_201(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("comment", {"seq": 4, "type": "Comment Added", "actor": "ann", "text": "see attachment"})
    status, body = call("POST", "/v1/approvals/a1/comments", {"text": "see attachment"})
    assert status == 201
    assert body["text"] == "see attachment"
    assert fake_service.last("comment")[0] == ("acme", "a1", "ann", "see attachment")


def test_history_and_inbox(call: Call, fake_service: FakeService) -> None:
    event = {"seq": 1, "type": "Approval Started", "actor": "ann", "acting_for": None, "at": "t",
             "data": {"flow": "leave-request"}, "hash": "h1", "prev_hash": ""}
    fake_service.answer("history", {"source": "table", "events": [event]})
    assert call("GET", "/v1/approvals/a1/history") == (200, {"source": "table", "events": [event]})
    item = {"approval_id": "a1", "flow": "leave-request", "step": "manager", "requester": "ann",
            "opened_at": "t", "deadline": None, "acting_for": "carol"}
    fake_service.answer("inbox", [{**item, "stage": 0}])  # the stage number stays inside
    assert call("GET", "/v1/inbox", claims={"sub": "bob", "tenant": "acme"}) == (200, [item])
    assert fake_service.last("inbox")[0] == ("acme", "bob")


def test_handler_tags_log_lines_with_the_request(fake_service: FakeService) -> None:
    fake_service.answer("decide", RuntimeError("boom"))
    event = make_event("POST", "/v1/approvals/a7/decisions", {"step": "manager", "decision": "approve"})
    buffer = io.StringIO()
    previous = api_handler.logger.registered_handler.setStream(buffer)
    try:
        response = api_handler.handler(event, Context())  # type: ignore[arg-type]
    finally:
        api_handler.logger.registered_handler.setStream(previous)
    assert response["statusCode"] == 500
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    logged = next(line for line in lines if line["message"] == "unhandled error")
    assert (logged["approval_id"], logged["tenant"], logged["user"], logged["step"]) == ("a7", "acme", "ann", "manager")
