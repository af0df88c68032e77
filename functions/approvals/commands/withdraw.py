"""The requester withdraws a running approval (撤回)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, directory_of
from ..contract.names import ApprovalError
from ..domain import Approval, ApprovalStatus, StepStatus
from ..domain.audit import NewEvent
from ..domain.policy import check_requester_of_running, check_visible
from ..domain.stage import waiting_for
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.tokens import complete_token
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def withdraw(
    tenant: str, approval_id: str, user: str, *, revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """The requester withdraws a running approval: it turns `withdrawn` at once, every open stage is
    `cancelled` and its token failed with `Approval.Withdrawn` (the machine then runs the
    compensations and Finish); a step that opens later is cancelled as it opens. `Approval
    Withdrawn` tells those it was waiting for at once (`Approval Completed` follows when the run
    has finished). Raises NotFound, NotRequester (403), ApprovalFinished (409)."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        check_requester_of_running(approval, user, "withdraw")
        at = iso(now)
        cancelled = [replace(s, status=StepStatus.CANCELLED, settled_at=at, callback="pending",
                             signal=ApprovalError.WITHDRAWN.value, outcome="withdrawn") for s in approval.open_stages()]
        data = {"steps": [{"step": s.step, "stage": s.stage} for s in cancelled]}
        waited_on = list(dict.fromkeys(u for s in approval.open_stages() for u in waiting_for(s)))
        told = business_event("Approval Withdrawn", approval, None, requester=user, to=waited_on,
                     steps=[s.step for s in cancelled])
        return Change(steps=[StepWrite(s, expect=OPEN_ONLY) for s in cancelled], status=ApprovalStatus.WITHDRAWN,
                      events=[NewEvent("Approval Withdrawn", actor=user, data=data)], result=cancelled,
                      publish=[told])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    for stage in planned.result:
        complete_token(rt, approval, stage)
    return approval
