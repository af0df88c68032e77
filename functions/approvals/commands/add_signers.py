"""Add signers to an open step (加签): before, after, or beside the caller."""

from __future__ import annotations

from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, acting_on, check_users, directory_of, standing_in_for, user_list
from ..domain import Approval
from ..domain import stage as stage_rules
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def add_signers(
    tenant: str, approval_id: str, step: str, user: str, users: list[str], position: str, *,
    revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """加签: `users` join the open stage of `step` `before`, `after` or in `parallel` to the caller
    (the step must `allow: add_signer`; each user must be in the directory and not on the stage yet).
    Raises NotFound, ActionNotAllowed/NotAllowed (403), InvalidInput/UnknownUser (400), StepNotOpen (409)."""
    rt = rt or default_runtime()
    users = user_list(users)
    directory = directory_of(rt, tenant)
    check_users(directory, users, "users")

    def change(approval: Approval, now: datetime) -> Change:
        stage, by = acting_on(approval, step, user, directory, now)
        updated = stage_rules.add_signers(stage, by, users, position, iso(now))
        data = {"step": step, "stage": stage.stage, "users": users, "position": position, "by": by}
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)],
                      events=[NewEvent("Signers Added", actor=user, acting_for=standing_in_for(user, by), data=data)],
                      publish=[business_event("Signers Added", approval, step, to=users, position=position, by=user)])

    approval, _ = mutate(rt, tenant, approval_id, change, revision=revision)
    return approval
