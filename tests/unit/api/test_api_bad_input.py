"""Bad bytes are a 400 in the API's shape, never a 500 (issue "hardening", item 7): bodies that are
not UTF-8 (as text or base64), nested past what the parser survives, integers past Python's digit
limit; paths no route can have; and answers that list at most MAX_DETAILS problems."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from approvals.api import app, body
from approvals.api.approvals import ApprovalId
from approvals.api.errors import MAX_DETAILS

from .conftest import FakeService
from .test_api_errors import assert_error_shape

Call = Callable[..., tuple[int, Any]]


def body_routes() -> list[str]:
    """Every POST route of the resolver (each takes a body), with its parameters filled in."""
    found = {route.path.replace("<approval_id>", "a1").replace("<flow>", "leave-request")
             for route in app._static_routes + app._dynamic_routes if route.method == "POST"}
    return sorted(found)


def test_every_route_with_a_body_is_covered() -> None:
    routes = body_routes()
    assert len(routes) == 10 and "/v1/approvals/a1/comments" in routes and "/v1/flows/leave-request/preview" in routes


def assert_body_refused(status: int, answer: Any, problem: str) -> None:
    assert status == 400, answer
    assert_error_shape(answer, "invalid_input")
    assert answer["error"]["details"] == [{"field": "body", "problem": answer["error"]["details"][0]["problem"]}]
    assert problem in answer["error"]["details"][0]["problem"]
    assert "Error" not in json.dumps(answer)  # no exception named back


# --- 1. not UTF-8 ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", body_routes())
def test_a_text_body_with_a_lone_surrogate_is_400(path: str, call: Call, fake_service: FakeService) -> None:
    # API Gateway hands the body on as a JSON string; "\udcff" there is a str UTF-8 cannot encode.
    status, answer = call("POST", path, '{"step": "\udcff", "decision": "approve"}')
    assert_body_refused(status, answer, "UTF-8")
    assert fake_service.calls == []


@pytest.mark.parametrize("path", body_routes())
def test_a_base64_body_that_is_not_utf8_is_400(path: str, call: Call, fake_service: FakeService) -> None:
    raw = base64.b64encode(b'{"text": "caf\xe9"}').decode()
    status, answer = call("POST", path, raw, base64=True)
    assert_body_refused(status, answer, "UTF-8")
    assert "byte 13" in answer["error"]["details"][0]["problem"]
    assert fake_service.calls == []


@pytest.mark.parametrize("raw", ["abc", "not base64!", "é" * 4])
def test_a_base64_body_that_is_not_base64_is_400(raw: str, call: Call, fake_service: FakeService) -> None:
    status, answer = call("POST", "/v1/approvals/a1/comments", raw, base64=True)
    assert_body_refused(status, answer, "base64")


def test_a_utf8_base64_body_is_read(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("comment", {"text": "café"})
    raw = base64.b64encode(json.dumps({"text": "café"}, ensure_ascii=False).encode()).decode()
    assert call("POST", "/v1/approvals/a1/comments", raw, base64=True)[0] == 201
    assert fake_service.last("comment")[0][-1] == "café"


def test_size_of_a_body_with_a_lone_surrogate_does_not_raise() -> None:
    assert body.size({"body": "a\udcffb"}) == 5  # measured as surrogatepass encodes it; `text` refuses it


# --- 2. nesting -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", body_routes())
def test_json_nested_10000_deep_is_400(path: str, call: Call, fake_service: FakeService) -> None:
    status, answer = call("POST", path, '{"input": ' + "[" * 10_000 + "]" * 10_000 + "}")
    assert_body_refused(status, answer, f"at most {body.MAX_NESTING} levels")
    assert fake_service.calls == []


def nested(depth: int) -> str:
    """A comments body whose arrays and objects nest `depth` levels (the body's own braces included)."""
    return '{"text": "x", "n": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_the_nesting_limit_is_64(call: Call, fake_service: FakeService) -> None:
    status, answer = call("POST", "/v1/approvals/a1/comments", nested(body.MAX_NESTING))
    assert status == 400 and answer["error"]["details"][0]["field"] == "n"  # got past admission to validation
    status, answer = call("POST", "/v1/approvals/a1/comments", nested(body.MAX_NESTING + 1))
    assert_body_refused(status, answer, "64")


def test_brackets_inside_strings_do_not_count(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("comment", {"text": "…"})
    text = '[{"\\"' * 500 + "\\\\"  # brackets, quotes and escapes inside one string
    assert call("POST", "/v1/approvals/a1/comments", {"text": text})[0] == 201
    assert fake_service.last("comment")[0][-1] == text


@pytest.mark.parametrize(("document", "deep"), [
    ("[" * 65, True), ("[" * 64, False), ('{"a": [' * 33, True), ('["' + "[" * 100 + '"]', False),
    ("[]" * 10_000, False), ('"\\"' + "[" * 100, False), ('"' + "[" * 100, False), ("[" * 65 + '"', True),
])
def test_too_deep(document: str, deep: bool) -> None:
    assert body.too_deep(document) is deep


@pytest.mark.parametrize("document", [
    '"\\"' * 100_000,  # every quote escaped: a scanner that retried each one would be quadratic
    '"\\' + "[" * 200_000,
    "[" * 64 + '"' + "\\\\" * 100_000,
    '"' * 200_000 + "[" * 100,
])
def test_the_nesting_check_is_linear(document: str) -> None:
    started = time.perf_counter()
    body.too_deep(document)
    assert time.perf_counter() - started < 1.0


# --- 3. integer digits ----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "raw"), [
    ("/v1/flows/leave-request/approvals", '{"input": {"days": ' + "9" * 5000 + "}}"),
    ("/v1/approvals/a1/decisions", '{"step": "s", "decision": "approve", "revision": ' + "1" * 5000 + "}"),
    ("/v1/approvals/a1/withdraw", '{"revision": -' + "1" * 5000 + "}"),
])
def test_an_integer_of_5000_digits_is_400(path: str, raw: str, call: Call, fake_service: FakeService) -> None:
    status, answer = call("POST", path, raw)
    assert_body_refused(status, answer, "digits")
    assert fake_service.calls == []


def test_parse_keeps_malformed_json_for_powertools() -> None:
    with pytest.raises(json.JSONDecodeError):
        body.parse("{oops")
    assert body.parse('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


# --- 6. paths with a control character ------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/approvals/a1\n"), ("GET", "/v1/approvals/a1\n/history"), ("GET", "/v1/inbox\n"),
    ("POST", "/v1/approvals/a1\n/decisions"), ("GET", "/v1/approvals/a\x001"), ("GET", "/v1/flows\r\n"),
])
def test_a_path_with_a_control_character_is_404(method: str, path: str, call: Call, fake_service: FakeService) -> None:
    # powertools' route patterns end in `$`: /v1/approvals/a1\n was a1's route.
    status, answer = call(method, path, {"step": "manager", "decision": "approve"} if method == "POST" else None)
    assert status == 404
    assert_error_shape(answer, "not_found")
    assert fake_service.calls == []


def test_a_path_with_a_control_character_still_needs_a_token(call: Call) -> None:
    assert call("GET", "/v1/inbox\n", claims=None)[0] == 401


def test_the_approval_id_pattern_refuses_a_trailing_newline() -> None:
    adapter = TypeAdapter(ApprovalId)
    assert adapter.validate_python("a1") == "a1"
    with pytest.raises(ValidationError):
        adapter.validate_python("a1\n")


# --- every problem, within reason -----------------------------------------------------------


def test_details_are_capped(call: Call, fake_service: FakeService) -> None:
    many = {"step": "manager", "decision": "approve", **{f"x{i}": 1 for i in range(5000)}}
    status, answer = call("POST", "/v1/approvals/a1/decisions", many)
    assert status == 400
    details = answer["error"]["details"]
    assert len(details) == MAX_DETAILS
    assert details[-1] == {"field": "body", "problem": f"and {5000 - MAX_DETAILS + 1} more problems"}


def test_domain_details_are_capped_too(call: Call, fake_service: FakeService) -> None:
    from approvals.domain import InvalidInput

    problems = [{"field": f"receipts[{i}]", "problem": "must be a string"} for i in range(300)]
    fake_service.answer("start_approval", InvalidInput("the input does not fit the flow", problems))
    status, answer = call("POST", "/v1/flows/expense-claim/approvals", {"input": {}})
    assert status == 400 and len(answer["error"]["details"]) == MAX_DETAILS
    assert answer["error"]["details"][:3] == problems[:3]
