"""Scheduled reminders that fell due (SweepFunction)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..clock import iso
from ..commands.common import OPEN_ONLY
from ..domain import Approval, ApprovalStatus, NotFound, Step, StepStatus
from ..domain.audit import NewEvent
from ..domain.policy import reminders_passed
from ..domain.stage import waiting_for
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def _stage(approval: Approval, step: str, number: int) -> Step | None:
    return next((s for s in approval.steps if (s.step, s.stage) == (step, number)), None)


def due_reminders(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled reminder sweep (a scheduled handler calls this): for every open stage whose
    next `remind` offset has passed by `now`, record and emit `Reminder Due` once (several offsets
    passed at once make one reminder). Returns what was sent: `[{"tenant", "approval_id", "step",
    "stage", "to"}]`. Safe to run concurrently and repeatedly: each write is conditional."""
    rt = rt or default_runtime()
    now = now or rt.now()
    sent: list[dict[str, Any]] = []
    for item in rt.store.due_stages(iso(now)):
        tenant, approval_id = str(item["tenant"]), str(item["approval_id"])
        step, number = str(item["step"]), int(item["stage"])

        def change(approval: Approval, at: datetime, step: str = step, number: int = number) -> Change | None:
            stage = _stage(approval, step, number)
            if stage is None or stage.status is not StepStatus.OPEN or approval.status is not ApprovalStatus.RUNNING:
                return None
            passed = reminders_passed(stage, now)
            if passed <= stage.reminders_sent:
                return None  # another sweep got here first
            updated = replace(stage, reminders_sent=passed)
            data = {"step": step, "stage": number, "kind": "scheduled", "number": passed, "to": waiting_for(stage)}
            told = business_event("Reminder Due", approval, step, stage=number, to=waiting_for(stage), kind="scheduled",
                         requester=approval.requester)
            return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], result=updated,
                          events=[NewEvent("Reminder Due", actor="system", data=data)], publish=[told])

        try:
            approval, planned = mutate(rt, tenant, approval_id, change)
        except NotFound:
            continue
        if planned is None:
            continue
        to = waiting_for(planned.result)
        sent.append({"tenant": tenant, "approval_id": approval_id, "step": step, "stage": number, "to": to})
    return sent
