"""A stage's deadline passes: the machine escalates (open_step at machine stage 1) or settles it by
the flow's `on_timeout` (machine.step_timed_out)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals.commands.decide import decide
from approvals.domain import NotAllowed, StepNotOpen, StepStatus
from approvals.queries.inbox import inbox
from tests.fakes import Completion, MemoryRuntime

from .machine import TENANT, Run, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}


def statuses(rt: MemoryRuntime, run: Run) -> dict[tuple[str, int], StepStatus]:
    return {(s.step, s.stage): s.status for s in rt.store.load(TENANT, run.id).steps}


def test_a_timed_out_stage_is_escalated_to_the_next_manager(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    first = run.open("Manager approval")
    rt.clock.advance(days=3)

    assert run.time_out("Manager approval", first) == "Manager escalation"
    escalation = run.open("Manager escalation")

    assert run.opened[-1] == {"step": "manager", "stage": 1, "status": "open", "assignees": ["carol"]}
    assert statuses(rt, run) == {("manager", 0): StepStatus.ESCALATED, ("manager", 1): StepStatus.OPEN}
    assert rt.events.of("Step Escalated") == [{"tenant": TENANT, "approval_id": run.id, "flow": "leave-request",
                                               "flow_version": 1, "step": "manager", "stage": 0, "to_stage": 1}]
    assert inbox(TENANT, "bob", rt=rt) == [] and [e["stage"] for e in inbox(TENANT, "carol", rt=rt)] == [1]
    with pytest.raises(NotAllowed):  # the stage is carol's now
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)

    decide(TENANT, run.id, "manager", "carol", "approve", rt=rt)
    assert rt.sfn.completions == [Completion(escalation, True, output={"step": "manager", "outcome": "approved"})]
    assert run.resume("Manager escalation", escalation) == "Director needed?"


def test_an_escalation_that_times_out_too_rejects(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.time_out("Manager approval", run.open("Manager approval"))
    escalation = run.open("Manager escalation")
    rt.clock.advance(days=3)

    assert run.time_out("Manager escalation", escalation) == "Rejected"

    assert statuses(rt, run)[("manager", 1)] is StepStatus.TIMED_OUT
    assert rt.events.of("Step Timed Out")[0]["outcome"] == "rejected"
    assert inbox(TENANT, "carol", rt=rt) == []
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "manager", "carol", "approve", rt=rt)
    assert run.finish("rejected")["outcome"] == "rejected"


def test_on_timeout_approve_records_the_stage_timed_out_approved(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    manager = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    run.resume("Manager approval", manager)
    hr = run.open("Hr approval")
    rt.clock.advance(timedelta(days=5))

    assert run.time_out("Hr approval", hr) == "Approved"

    hr_stage = rt.store.load(TENANT, run.id).current("hr")
    assert hr_stage is not None and (hr_stage.status, hr_stage.outcome) == (StepStatus.TIMED_OUT, "approved")
    history = rt.store.history(TENANT, run.id)
    assert history[-1]["type"] == "Step Timed Out" and history[-1]["data"] == {"step": "hr", "stage": 0,
                                                                               "outcome": "approved"}
    assert run.finish("approved")["outcome"] == "approved"
