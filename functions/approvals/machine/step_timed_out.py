"""StepTimedOutFunction: a stage's deadline passed and the flow approves or rejects it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..clock import iso
from ..contract.tasks import StepTimedOutInput
from ..domain import Approval, Outcome, StepStatus
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def step_timed_out(event: StepTimedOutInput, rt: Runtime | None = None) -> dict[str, Any]:
    """`StepTimedOutFunction`: the Task timed out and the flow says approve or reject; record it
    (status `timed_out`, with the outcome the flow applied)."""
    rt = rt or default_runtime()
    step_id, machine_stage, outcome = event.step, event.stage, Outcome(event.outcome)

    def change(approval: Approval, now: datetime) -> Change | None:
        stages = [s for s in approval.steps if s.step == step_id and s.machine_stage == machine_stage]
        stage = max(stages, key=lambda s: s.stage) if stages else None
        if stage is None or stage.status is not StepStatus.OPEN:
            return None  # already recorded, or settled by a decision that lost the race to the timeout
        timed_out = replace(stage, status=StepStatus.TIMED_OUT, settled_at=iso(now), outcome=outcome.value)
        data = {"step": step_id, "stage": stage.stage, "outcome": outcome.value}
        told = business_event("Step Timed Out", approval, step_id, stage=stage.stage, outcome=outcome.value)
        return Change(steps=[StepWrite(timed_out, expect=frozenset({StepStatus.OPEN}))],
                      events=[NewEvent("Step Timed Out", actor="system", data=data)], publish=[told])

    mutate(rt, event.tenant, event.approval_id, change)
    return {"step": step_id, "stage": machine_stage, "outcome": outcome.value}
