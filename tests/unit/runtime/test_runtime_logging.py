"""The unit of work (approvals.unit_of_work) logs through the service's powertools Logger: what it logs while a handler
runs (a token that is gone, an event parked for the sweep) carries the keys that handler appended
and the service's name, as every other line of the invocation does (no AWS needed)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from approvals.domain import Approval, Step, StepStatus
from approvals.handlers import finish
from approvals.handlers._telemetry import logger
from approvals.machine import finish as finish_machine
from approvals.unit_of_work.ports import TokenGone
from approvals.unit_of_work.publish import business_event, publish
from approvals.unit_of_work.tokens import complete_token
from approvals.wiring import Runtime
from local.lambda_seam import LambdaContext

EVENT = {"approval_id": "a1", "tenant": "acme", "flow": "leave-request", "flow_version": 1, "requester": "ann",
         "outcome": "approved", "steps": ["manager"], "state": {}}  # FinishFunction's Task input


class GoneTokens:
    """Step Functions, once the Task has timed out: every token is gone."""

    def succeed(self, token: str, output: Any) -> None:
        raise TokenGone(token)

    def fail(self, token: str, error: str, cause: str = "") -> None:
        raise TokenGone(token)


class RefusingBus:
    def put(self, detail_type: str, detail: Any) -> None:
        raise RuntimeError("EventBridge refused it")


class Table:
    def __init__(self) -> None:
        self.marks: list[tuple[str, str, str, int, str]] = []
        self.published: list[str] = []

    def mark_callback(self, tenant: str, approval_id: str, step: str, stage: int, mark: str) -> None:
        self.marks.append((tenant, approval_id, step, stage, mark))

    def delete_published(self, publication: Any) -> None:
        self.published.append(publication.detail_type)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Where the service's Logger writes during the test (its own handler, its own formatter)."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        if previous is not None:
            handler.setStream(previous)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_runtime_lines_during_a_handler_call_carry_its_keys(monkeypatch: pytest.MonkeyPatch,
                                                            log_stream: io.StringIO) -> None:
    table = Table()
    rt = Runtime(store=table, sfn=GoneTokens(), events=RefusingBus())  # type: ignore[arg-type]
    stage = Step(step="manager", stage=0, status=StepStatus.APPROVED, task_token="token")
    approval = Approval(id="a1", tenant="acme", flow="leave-request", flow_version=1, requester="ann", input={},
                        steps=[stage])

    def finish_with_trouble(event: dict[str, Any]) -> dict[str, Any]:
        complete_token(rt, approval, stage)  # the Task timed out meanwhile: a warning
        told = business_event("Approval Completed", approval, outcome="approved", cc=[], requester="ann")
        publish(rt, [told])  # refused: an error, and it stays in the outbox
        return {"outcome": "approved"}

    monkeypatch.setattr(finish_machine, "finish", finish_with_trouble)
    context = LambdaContext("FinishFunction", 128, "arn:aws:lambda:us-east-1:123456789012:function:f", 10.0)
    finish.handler(dict(EVENT), context)
    assert table.marks == [("acme", "a1", "manager", 0, "gone")] and table.published == []

    logged = lines(log_stream)
    gone = next(line for line in logged if line["message"] == "token of a1/manager stage 0 is gone")
    parked = next(line for line in logged if "kept for the sweep" in line["message"])
    for line in (gone, parked):
        assert line["service"] == "approvals"
        assert (line["approval_id"], line["tenant"]) == ("a1", "acme")
        # appended by the handler alone: inject_lambda_context's and the handler's own tag
        assert (line["function_name"], line["flow"]) == ("FinishFunction", "leave-request")
    assert gone["level"] == "WARNING" and (gone["step"], gone["stage"]) == ("manager", 0)
    assert parked["level"] == "ERROR" and "EventBridge refused it" in parked["exception"]
    assert logged[-1]["message"] == "finish done" and logged[-1]["service"] == "approvals"
