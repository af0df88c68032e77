"""Changes to a running approval besides a decision: add signers, transfer, return, resubmit,
withdraw. Each is one revision-conditional write (`runtime.mutate`), recorded in the audit trail;
a stage it settles has its token completed once, after the write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from . import catalog
from .adapters.store import NewEvent, StepWrite, waiting_for
from .domain import (
    Approval,
    ApprovalStatus,
    Decision,
    DecisionRecord,
    InvalidInput,
    Step,
    StepNotOpen,
    StepStatus,
)
from .domain import stage as stage_rules
from .domain.policy import check_requester, check_requester_of_running, check_visible
from .runtime import Change, Runtime, complete_token, default_runtime, detail, emit, iso, mutate
from .service_common import OPEN_ONLY, acting_on, check_input, check_users, directory_of, user_list

WITHDRAWN = "Approval.Withdrawn"


def _acting_for(user: str, counted: str) -> str | None:
    return counted if counted != user else None


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
                      events=[NewEvent("Signers Added", actor=user, acting_for=_acting_for(user, by), data=data)])

    approval, _ = mutate(rt, tenant, approval_id, change, revision=revision)
    emit(rt, "Signers Added", detail(approval, step, to=users, position=position, by=user))
    return approval


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
                      events=[NewEvent("Step Transferred", actor=user, acting_for=_acting_for(user, by), data=data)])

    approval, _ = mutate(rt, tenant, approval_id, change, revision=revision)
    emit(rt, "Step Transferred", detail(approval, step, to=[to], by=user))
    return approval


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
                      events=[NewEvent("Step Returned", actor=user, acting_for=_acting_for(user, by), data=data)])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    complete_token(rt, approval, planned.result)
    emit(rt, "Step Returned", detail(approval, step, to_step=to_step, by=user))
    return approval


def _resubmission(approval: Approval) -> Step:
    stage = next((s for s in approval.open_stages() if s.kind == "resubmit"), None)
    if approval.status is not ApprovalStatus.RUNNING or stage is None:
        raise StepNotOpen(f"approval {approval.id} is not waiting for a resubmission")
    return stage


def resubmit(
    tenant: str, approval_id: str, user: str, input: Mapping[str, Any], *,
    revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """The requester sends a corrected input while the resubmission step (`@requester`, after a
    return to the requester) is open; it is validated again and handed to the machine as the new
    `$.input`. Raises NotFound, NotRequester (403), InvalidInput/UnknownUser (400), StepNotOpen (409)."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        check_requester(approval, user, "resubmit")
        stage = _resubmission(approval)
        clean = check_input(catalog.get(approval.flow, approval.flow_version), input, approval.requester, directory)
        at = iso(now)
        record = DecisionRecord(user=user, decision=Decision.APPROVE, at=at, actor=user, comment="resubmitted")
        updated = replace(stage, status=StepStatus.APPROVED, settled_at=at, callback="pending", signal=None,
                          outcome="resubmitted", decisions=[*stage.decisions, record])
        data = {"step": stage.step, "stage": stage.stage, "input": clean}
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], input=clean, result=updated,
                      events=[NewEvent("Resubmitted", actor=user, data=data)])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    complete_token(rt, approval, planned.result)
    emit(rt, "Resubmitted", detail(approval, planned.result.step, requester=user))
    return approval


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
        cancelled = [replace(s, status=StepStatus.CANCELLED, settled_at=at, callback="pending", signal=WITHDRAWN,
                             outcome="withdrawn") for s in approval.open_stages()]
        data = {"steps": [{"step": s.step, "stage": s.stage} for s in cancelled]}
        waited_on = list(dict.fromkeys(u for s in approval.open_stages() for u in waiting_for(s)))
        return Change(steps=[StepWrite(s, expect=OPEN_ONLY) for s in cancelled], status=ApprovalStatus.WITHDRAWN,
                      events=[NewEvent("Approval Withdrawn", actor=user, data=data)], result=(cancelled, waited_on))

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    cancelled, waited_on = planned.result
    for stage in cancelled:
        complete_token(rt, approval, stage)
    emit(rt, "Approval Withdrawn", detail(approval, None, requester=user, to=waited_on,
                                          steps=[s.step for s in cancelled]))
    return approval
