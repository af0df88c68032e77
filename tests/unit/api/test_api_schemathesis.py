"""schemathesis against the API's own OpenAPI document (`/openapi.json`), in-process: every operation
gets generated requests, valid (positive) and invalid (negative), each turned into the API Gateway
REST event the deployed API would hand the function and resolved by `app` with the use cases faked
(`fake_service`). Whatever it sends, the answer is never a 5xx, an error is in the API's one shape
(docs/api.md "Errors"), and its status is one the operation documents.

Driven through schemathesis' Python API and hypothesis (`operation.as_strategy()` under `@given`),
not its pytest plugin, so that the fake service is an ordinary fixture. Bounded and repeatable:
MAX_EXAMPLES per operation and mode, derandomized, no example database.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode

from approvals.api import app, flows

from .conftest import ANN, Context, FakeService

MAX_EXAMPLES = 25
SCHEMA = schemathesis.openapi.from_dict(json.loads(app.get_openapi_json_schema()))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def negatable(operation: Any) -> bool:
    """Whether an invalid request can be made of `operation`: it has parameters, a body or a token
    to get wrong (GET /v1/health has none of them)."""
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody") or raw.get("security", True))


CASES = [(operation, mode) for operation in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or negatable(operation)]


def event_of(case: Case, claims: dict[str, Any] | None = ANN) -> dict[str, Any]:
    """The REST proxy event for `case`, as API Gateway builds it: the path decoded, a body that is not
    UTF-8 base64-encoded (as local/gateway.py does), the caller's claims from the authorizer."""
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    body: str | None = None
    encoded = False
    if not isinstance(case.body, NotSet):
        raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body, ensure_ascii=False).encode(
            "utf-8", "surrogatepass")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(raw).decode("ascii"), True
        headers.setdefault("Content-Type", case.media_type or "application/json")
    query = {str(k): v if isinstance(v, list) else [v] for k, v in (case.query or {}).items()}
    path = unquote(case.formatted_path)
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": case.method.upper(), "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: str(v[-1]) for k, v in query.items()} or None,
        "multiValueQueryStringParameters": {k: [str(x) for x in v] for k, v in query.items()} or None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "body": body, "isBase64Encoded": encoded,
        "requestContext": {"stage": "v1", "path": f"/v1{path}", "httpMethod": case.method.upper(), "requestId": "r",
                           "authorizer": {"claims": claims} if claims else None},
    }


def answer(case: Case, claims: dict[str, Any] | None = ANN) -> tuple[int, Any]:
    response = app.resolve(event_of(case, claims), Context())  # type: ignore[arg-type]
    text = response.get("body")
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text or "").decode("utf-8")
    try:
        return response["statusCode"], json.loads(text) if text else None
    except ValueError:
        return response["statusCode"], text  # the Swagger page, or a body that is not JSON (then not an error)


def assert_acceptable(case: Case, status: int, body: Any) -> None:
    """No 5xx; an error in the shape of docs/api.md; a status the operation documents."""
    where = f"{case.method} {case.formatted_path}: {status} {body!r}"
    assert status < 500, where
    documented = {int(code) for code in case.operation.definition.raw.get("responses", {}) if code.isdigit()}
    assert status in documented, f"{where} (documented: {sorted(documented)})"
    if status >= 400:
        assert isinstance(body, dict) and set(body) == {"error"}, where
        error = body["error"]
        assert set(error) == {"code", "message", "details"}, where
        assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"], where
        assert isinstance(error["details"], list), where
        assert all(set(d) == {"field", "problem"} for d in error["details"]), where
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # names nothing that is not valid text


@pytest.fixture
def service(fake_service: FakeService, monkeypatch: pytest.MonkeyPatch) -> FakeService:
    """The fake use cases (preview's too), and a start with an Idempotency-Key that needs no DynamoDB
    (the key's record is powertools' business, tested in test_api_idempotency.py)."""
    monkeypatch.setattr(flows, "_start_once", flows._start)
    monkeypatch.setattr(flows, "preview_path", fake_service.recorder("preview"))
    fake_service.answer("comment", {"seq": 4, "type": "Comment Added", "actor": "ann", "acting_for": None,
                                    "at": "2026-12-01T00:00:00.000Z", "data": {"text": "hi"}, "hash": "h",
                                    "prev_hash": "g"})
    fake_service.answer("history", {"source": "table", "events": []})
    fake_service.answer("inbox", [])
    fake_service.answer("list_flows", [])
    fake_service.answer("preview", [])
    return fake_service


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=[f"{o.label} {m}" for o, m in CASES])
def test_generated_requests_are_never_a_5xx(operation: Any, mode: GenerationMode, service: FakeService) -> None:
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Case) -> None:
        status, body = answer(case)
        assert_acceptable(case, status, body)

    check()


def test_every_operation_is_exercised() -> None:
    labels = {operation.label for operation in OPERATIONS}
    assert len(labels) == 15 and "POST /v1/approvals/{approval_id}/decisions" in labels
    assert len(CASES) == 2 * len(OPERATIONS) - 1  # all but GET /v1/health have invalid requests too
