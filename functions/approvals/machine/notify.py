"""NotifyFunction: a `notify` step; and who a list of approver specs names, for it and for Finish."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..clock import iso
from ..contract.tasks import NotifyInput
from ..domain import Approval, Step, StepStatus
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def resolve_recipients(rt: Runtime, approval: Approval, specs: Sequence[Mapping[str, Any]]) -> list[str]:
    if not specs:
        return []
    return rt.store.get_directory(approval.tenant).resolve_all(list(specs), approval.requester, approval.input)


def notify(event: NotifyInput, rt: Runtime | None = None) -> dict[str, Any]:
    """`NotifyFunction`: resolve who to tell, record it (the step `succeeded`), emit
    `Notification Requested`; no waiting."""
    rt = rt or default_runtime()
    step_id = event.step
    recipients: list[str] = []

    def change(approval: Approval, now: datetime) -> Change | None:
        done_before = next((s for s in approval.steps if s.step == step_id and s.kind == "notify"
                            and event.entered_at and s.entered_at == event.entered_at), None)
        if done_before is not None:  # a retried invoke of the same Task: told once already
            recipients[:] = list(done_before.assignees)
            return None
        recipients[:] = resolve_recipients(rt, approval, event.to)
        data = {"step": step_id, "to": list(recipients), "message": event.message}
        writes: list[StepWrite] = []
        if step_id:
            previous = approval.current(step_id)
            done = Step(step=step_id, stage=previous.stage + 1 if previous else 0, status=StepStatus.SUCCEEDED,
                        kind="notify", opened_at=iso(now), settled_at=iso(now), assignees=list(recipients),
                        entered_at=event.entered_at)
            writes.append(StepWrite(done, may_create=True))
        told = business_event("Notification Requested", approval, step_id, to=list(recipients), message=event.message,
                              requester=approval.requester)
        return Change(steps=writes, events=[NewEvent("Notified", actor="system", data=data)], publish=[told])

    mutate(rt, event.tenant, event.approval_id, change)
    return {"step": step_id, "to": recipients}
