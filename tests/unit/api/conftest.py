"""Hand-made API Gateway REST events for `approvals.api.app`, and a fake service.

`call(method, path, body=..., claims=...)` resolves one event and returns (status, parsed body).
`fake_service` replaces the service functions the routes call with recorders: routes are tested
for what they pass and answer, not for what the domain does (the integration tests do that).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from approvals.api import app
from approvals.commands import add_signers, comment, decide, remind, resubmit, return_step, start, transfer, withdraw
from approvals.domain import Approval, Decision, DecisionRecord, Step, StepStatus
from approvals.queries import approval, flows, history, inbox

ANN = {"sub": "ann", "tenant": "acme"}


class Context:
    function_name = "api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def make_event(
    method: str, path: str, body: Any = None, *, claims: dict[str, Any] | None = ANN,
    authorizer: dict[str, Any] | None = None, headers: dict[str, str] | None = None, base64: bool = False,
) -> dict[str, Any]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    if authorizer is None and claims is not None:
        authorizer = {"claims": claims}
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "body": body, "isBase64Encoded": base64,
        "requestContext": {"stage": "v1", "path": f"/v1{path}", "httpMethod": method, "requestId": "r",
                           "authorizer": authorizer},
    }


def resolve(event: dict[str, Any]) -> tuple[int, Any]:
    response = app.resolve(event, Context())
    body = response.get("body")
    return response["statusCode"], json.loads(body) if body else None


@pytest.fixture
def call() -> Callable[..., tuple[int, Any]]:
    def _call(method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return resolve(make_event(method, path, body, **kwargs))

    return _call


def sample_approval(approval_id: str = "a1", tenant: str = "acme") -> Approval:
    step = Step(step="manager", stage=0, status=StepStatus.OPEN, mode="any", assignees=["bob"],
                decisions=[DecisionRecord(user="bob", decision=Decision.APPROVE, at="2026-12-01T00:00:00.000Z",
                                          actor="dave", comment="ok")],
                opened_at="2026-11-30T00:00:00.000Z", deadline="2026-12-03T00:00:00.000Z", task_token="secret")
    return Approval(id=approval_id, tenant=tenant, flow="leave-request", flow_version=1, requester="ann",
                    input={"days": 1}, revision=3, created_at="2026-11-30T00:00:00.000Z",
                    updated_at="2026-12-01T00:00:00.000Z", steps=[step])


@dataclass
class FakeService:
    """Records each call as (name, args, kwargs) and answers with `answers[name]` (an exception is raised)."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)

    def answer(self, name: str, value: Any) -> None:
        self.answers[name] = value

    def recorder(self, name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            value = self.answers.get(name)
            if isinstance(value, BaseException):
                raise value
            return value() if callable(value) else value

        return record

    def last(self, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        found = [(args, kwargs) for n, args, kwargs in self.calls if n == name]
        assert found, f"service.{name} was not called (calls: {[c[0] for c in self.calls]})"
        return found[-1]


# Each use case the routes call, in the module it lives in (the routes call it through that module).
SERVICE_FUNCTIONS = {"list_flows": flows, "start_approval": start, "get_approval": approval, "decide": decide,
                     "add_signers": add_signers, "transfer": transfer, "return_step": return_step,
                     "resubmit": resubmit, "withdraw": withdraw, "remind": remind, "comment": comment,
                     "history": history, "inbox": inbox}


@pytest.fixture
def fake_service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()
    for name, module in SERVICE_FUNCTIONS.items():
        monkeypatch.setattr(module, name, fake.recorder(name))
    for name in ["get_approval", "decide", "add_signers", "transfer", "return_step", "resubmit", "withdraw"]:
        fake.answer(name, sample_approval)
    fake.answer("start_approval", "a1")
    return fake
