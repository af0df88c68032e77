"""The requester reminds the people an open step waits for (催办)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, directory_of
from ..domain import Approval, StepNotOpen
from ..domain.audit import NewEvent
from ..domain.policy import check_remind, check_requester_of_running, check_visible
from ..domain.stage import waiting_for
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def remind(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> None:
    """催办: the requester nudges the people of every open step (`Reminder Due`), at most once per
    step per hour. Raises NotFound, NotRequester (403), ApprovalFinished/StepNotOpen (409), and
    TooSoon (a Conflict; map it to 429 with `Retry-After: retry_after`) when every open step was
    reminded within the hour."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        check_requester_of_running(approval, user, "remind")
        stages = [s for s in approval.open_stages() if s.kind == "approval"]
        if not stages:
            raise StepNotOpen(f"no step of approval {approval_id} is waiting for anyone")
        at = iso(now)
        due = [replace(s, last_reminded_at=at) for s in check_remind(stages, now)]
        events = [NewEvent("Reminder Due", actor=user, data={"step": s.step, "stage": s.stage, "kind": "manual",
                                                             "to": waiting_for(s)}) for s in due]
        told = [business_event("Reminder Due", approval, s.step, stage=s.stage, to=waiting_for(s), kind="manual",
                      requester=approval.requester) for s in due]
        return Change(steps=[StepWrite(s, expect=OPEN_ONLY) for s in due], events=events, result=due, publish=told)

    mutate(rt, tenant, approval_id, change)
