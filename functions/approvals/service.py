"""What people do to an approval: start one, decide on a step.

The API handlers (a later issue) are thin shells around these; tests and the local stack call
them directly. Every change goes through `runtime.mutate` (revision-conditional write).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .adapters.store import NewEvent, StepWrite
from .domain import (
    AlreadyDecided,
    Approval,
    ApprovalStatus,
    Decision,
    DecisionRecord,
    InvalidInput,
    NotAllowed,
    Outcome,
    Step,
    StepNotOpen,
    StepStatus,
    may_decide,
    settle,
)
from .runtime import Change, Runtime, complete_token, default_runtime, detail, emit, iso, mutate


def state_machine_name(flow: str, version: int) -> str:
    return f"{flow}-v{version}"


def start_approval(
    tenant: str,
    flow: str,
    version: int,
    requester: str,
    input: Mapping[str, Any],
    *,
    approval_id: str | None = None,
    rt: Runtime | None = None,
) -> str:
    """Write the approval, then start its execution named with the approval id (so a repeated
    start cannot run the flow twice). `input` is expected validated, defaults filled in."""
    rt = rt or default_runtime()
    approval_id = approval_id or uuid.uuid4().hex
    now = iso(rt.now())
    approval = Approval(
        id=approval_id, tenant=tenant, flow=flow, flow_version=int(version), requester=requester,
        input=dict(input), created_at=now, updated_at=now,
    )
    started = NewEvent("Approval Started", actor=requester, data={"flow": flow, "flow_version": int(version)})
    rt.store.create(approval, [started])
    payload = {
        "approval_id": approval_id, "tenant": tenant, "flow": flow, "flow_version": int(version),
        "requester": requester, "input": dict(input),
    }
    try:
        rt.sfn.start(state_machine_name(flow, int(version)), approval_id, payload)
    except Exception:
        # Nothing runs this approval: say so in the table rather than leave a "running" orphan.
        mutate(rt, tenant, approval_id, lambda a, at: Change(
            status=ApprovalStatus.FAILED,
            events=[NewEvent("Approval Failed", actor="system", data={"reason": "execution did not start"})]))
        raise
    emit(rt, "Approval Started", detail(approval, None, requester=requester))
    return approval_id


def _counts_for(rt: Runtime, approval: Approval, stage: Step, user: str, at: datetime) -> str:
    """The assignee a decision by `user` counts for: themself, or someone they stand in for."""
    if user in stage.assignees:
        return user
    directory = rt.store.get_directory(approval.tenant)
    for source in directory.acting_for(user, at):
        if source in stage.assignees:
            return source
    raise NotAllowed(f"{user} is not an assignee of {stage.step}")


def decide(
    tenant: str,
    approval_id: str,
    step: str,
    user: str,
    decision: str | Decision,
    comment: str | None = None,
    *,
    revision: int | None = None,
    rt: Runtime | None = None,
) -> Approval:
    """Record `user`'s decision on the open stage of `step`; if it settles the stage, complete the
    Task's token once. Raises StepNotOpen, NotAllowed, AlreadyDecided, StaleRevision."""
    rt = rt or default_runtime()
    try:
        choice = Decision(decision)
    except ValueError:
        raise InvalidInput(f"decision must be approve or reject, not {decision!r}") from None

    def change(approval: Approval, now: datetime) -> Change:
        stage = approval.current(step)
        if approval.status is not ApprovalStatus.RUNNING or stage is None or stage.status is not StepStatus.OPEN:
            raise StepNotOpen(f"step {step} of approval {approval_id} is not open")
        assignee = _counts_for(rt, approval, stage, user, now)
        so_far = {d.user: d.decision for d in stage.decisions}
        if assignee in so_far:
            raise AlreadyDecided(f"{assignee} already decided on {step}")
        if assignee not in may_decide(stage.mode, stage.assignees, so_far):
            raise NotAllowed(f"it is not {assignee}'s turn on {step}")
        at = iso(now)
        record = DecisionRecord(user=assignee, decision=choice, at=at, actor=user, comment=comment)
        outcome = settle(stage.mode, stage.assignees, {**so_far, assignee: choice})
        updated = replace(stage, decisions=[*stage.decisions, record])
        events = [NewEvent("Decision Recorded", actor=user, acting_for=record.acting_for,
                           data={"step": step, "stage": stage.stage, "decision": choice.value, "comment": comment})]
        if outcome is not Outcome.OPEN:
            updated.status = StepStatus(outcome.value)
            updated.settled_at = at
            updated.callback = "pending"
            events.append(NewEvent("Step Settled", actor=user, data={"step": step, "stage": stage.stage,
                                                                       "outcome": outcome.value}))
        # The stage must still be open: the approval's revision already orders writers, this
        # makes "settled exactly once" hold even for a writer that skips the revision.
        return Change(steps=[StepWrite(updated, expect=frozenset({StepStatus.OPEN}))], events=events,
                      result=(updated, outcome, record))

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None  # change() never returns None
    stage, outcome, record = planned.result
    if outcome is not Outcome.OPEN:
        complete_token(rt, approval, stage, outcome)
    emit(rt, "Decision Recorded", detail(approval, step, user=user, acting_for=record.acting_for,
                                         decision=choice.value, settled=outcome.value))
    return approval
