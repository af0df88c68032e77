"""Step handlers log the approval's keys and publish EMF metrics by flow (no AWS needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from approvals.handlers import finish, open_step
from approvals.handlers._telemetry import logger
from approvals.machine import finish as finish_machine
from approvals.machine import open_step as open_step_machine
from local.lambda_seam import LambdaContext


def context() -> LambdaContext:
    return LambdaContext("fn", 128, "arn:aws:lambda:us-east-1:123456789012:function:fn", 10.0)


def emf(output: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


# The Task inputs the compiled machine sends (approvals.contract.tasks), as the handlers parse them.
RUN = {"approval_id": "a1", "tenant": "acme", "flow": "leave-request", "flow_version": 1, "requester": "ann"}
EVENT = {**RUN, "outcome": "approved", "steps": ["manager"], "state": {}}  # FinishFunction's
OPEN = {**RUN, "task_token": "t1", "input": {}, "kind": "approval", "step": "manager", "stage": 0,
        "spec": {"title": "Manager", "approvers": [{"manager": 1}], "mode": "any"}, "settings": {}}


@pytest.fixture(autouse=True)
def namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Approvals")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "approvals")


def test_finish_counts_the_outcome_by_flow(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(finish_machine, "finish", lambda event: {"outcome": "approved"})
    finish.handler(dict(EVENT), context())
    out = capfd.readouterr().out
    metric = next(d for d in emf(out) if "ApprovalCompleted" in d)
    assert metric["flow"] == "leave-request" and metric["outcome"] == "approved"
    keys = logger.get_current_keys()  # what every log line of this invocation carries
    tagged = (keys["approval_id"], keys["tenant"], keys["flow"])
    assert tagged == ("a1", "acme", "leave-request")


def test_a_step_handler_tags_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(open_step_machine, "open_step", lambda event: {"status": "open"})
    open_step.handler(dict(OPEN), context())
    keys = logger.get_current_keys()
    tagged = (keys["approval_id"], keys["tenant"], keys["flow"], keys["step"])
    assert tagged == ("a1", "acme", "leave-request", "manager")


def test_a_task_input_the_contract_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError):
        open_step.handler({**OPEN, "stage": "first"}, context())
    with pytest.raises(ValidationError):
        finish.handler({**EVENT, "surprise": True}, context())


def test_an_escalation_stage_counts_as_escalated(monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(open_step_machine, "open_step", lambda event: {"status": "open"})
    open_step.handler({**OPEN, "stage": 1}, context())
    open_step.handler(dict(OPEN), context())
    names = [name for d in emf(capfd.readouterr().out) for name in ("StepEscalated", "StepOpened") if name in d]
    assert names == ["StepEscalated", "StepOpened"]


def test_metrics_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setattr(finish_machine, "finish", lambda event: {"outcome": "approved"})
    finish.handler(dict(EVENT), context())
    assert emf(capfd.readouterr().out) == []
