"""Send a step back (退回): to an earlier step, or to the requester to resubmit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, acting_on, directory_of, standing_in_for
from ..domain import Approval, InvalidInput, StepStatus
from ..domain import stage as stage_rules
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.tokens import complete_token
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def return_step(
    tenant: str, approval_id: str, step: str, user: str, to_step: str, *,
    revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """退回: send the run back to `to_step` (one of the step's `return_to`, and one that has run in
    this approval) or to the requester (`"requester"`, for resubmission). The stage becomes
    `returned` and its token fails with `Approval.Returned.<to_step>`; the machine opens `to_step`
    again as a new stage with its original approvers. Raises NotFound, ActionNotAllowed/NotAllowed
    (403), InvalidInput (400), StepNotOpen/NotReturnable (409)."""
    rt = rt or default_runtime()
    if not isinstance(to_step, str) or not to_step:
        raise InvalidInput("to_step must be a step id", [{"field": "to_step", "problem": "a step id is required"}])
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        stage, by = acting_on(approval, step, user, directory, now)
        ran = sorted({s.step for s in approval.steps if approval.ran(s.step)})
        signal = stage_rules.check_return(stage, by, to_step, ran)
        at = iso(now)
        updated = replace(stage, status=StepStatus.RETURNED, settled_at=at, callback="pending", signal=signal,
                          outcome="returned")
        data = {"step": step, "stage": stage.stage, "to_step": to_step, "by": by}
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], result=updated,
                      events=[NewEvent("Step Returned", actor=user, acting_for=standing_in_for(user, by), data=data)],
                      publish=[business_event("Step Returned", approval, step, to_step=to_step, by=user)])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    complete_token(rt, approval, planned.result)
    return approval
