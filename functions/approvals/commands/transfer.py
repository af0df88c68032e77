"""Hand one's place on an open step to someone else (转交)."""

from __future__ import annotations

from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, acting_on, check_users, directory_of, standing_in_for
from ..domain import Approval, InvalidInput
from ..domain import stage as stage_rules
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def transfer(
    tenant: str, approval_id: str, step: str, user: str, to: str, *,
    revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """转交: `to` takes the caller's place on the open stage of `step` (`allow: transfer`); the trail
    records both. Raises NotFound, ActionNotAllowed/NotAllowed (403), InvalidInput/UnknownUser (400),
    StepNotOpen (409)."""
    rt = rt or default_runtime()
    if not isinstance(to, str) or not to:
        raise InvalidInput("to must be a user id", [{"field": "to", "problem": "a user id is required"}])
    directory = directory_of(rt, tenant)
    check_users(directory, [to], "to")

    def change(approval: Approval, now: datetime) -> Change:
        stage, by = acting_on(approval, step, user, directory, now)
        updated = stage_rules.transfer(stage, by, to, user, iso(now))
        data = {"step": step, "stage": stage.stage, "from": by, "to": to}
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)],
                      events=[NewEvent("Step Transferred", actor=user, acting_for=standing_in_for(user, by),
                                       data=data)],
                      publish=[business_event("Step Transferred", approval, step, to=[to], by=user)])

    approval, _ = mutate(rt, tenant, approval_id, change, revision=revision)
    return approval
