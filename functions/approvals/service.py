"""What people do to an approval: start one, decide, add signers, transfer, return, resubmit,
withdraw, remind, comment, and read it, its history and their inbox.

The API handlers are thin shells around these; tests and the local stack call them directly.
Every change goes through `runtime.mutate` (revision-conditional write); a settled stage's token
is completed exactly once, after the write that settled it. Errors are the domain's
(`approvals.domain.errors`, which also says which HTTP code each maps to).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from . import catalog
from .adapters.store import NewEvent, StepWrite
from .domain import (
    Approval,
    Decision,
    DecisionRecord,
    InvalidInput,
    Outcome,
)
from .domain import stage as stage_rules
from .runtime import (
    Change,
    Runtime,
    complete_token,
    default_runtime,
    detail,
    emit,
    iso,
    mutate,
    start_execution,
    state_machine_name,
)
from .service_actions import add_signers, resubmit, return_step, transfer, withdraw
from .service_common import OPEN_ONLY, acting_on, check_input, directory_of, settled
from .service_views import (
    comment,
    due_reminders,
    get_approval,
    history,
    inbox,
    remind,
    sweep_callbacks,
    sweep_outbox,
    sweep_starts,
)

__all__ = [
    "add_signers",
    "comment",
    "decide",
    "due_reminders",
    "sweep_callbacks",
    "get_approval",
    "history",
    "inbox",
    "list_flows",
    "remind",
    "resubmit",
    "return_step",
    "start_approval",
    "state_machine_name",
    "sweep_outbox",
    "sweep_starts",
    "transfer",
    "withdraw",
]


def list_flows(tenant: str | None = None) -> list[dict[str, Any]]:
    """`[{"flow", "version", "title"}]`: the latest version of every flow in the catalog (every
    tenant sees the same flows)."""
    return catalog.list_flows()


def start_approval(
    tenant: str,
    flow: str,
    version: int | None,
    requester: str,
    input: Mapping[str, Any],
    *,
    approval_id: str | None = None,
    rt: Runtime | None = None,
) -> str:
    """Validate the input against the flow's manifest (defaults filled in), write the approval,
    then start its execution named with the approval id (so a repeated start cannot run the flow
    twice). `version=None` is the latest in the catalog. Raises UnknownFlow (404), InvalidInput /
    UnknownUser with details (400), ApprovalExists (409) for an id already used."""
    rt = rt or default_runtime()
    entry = catalog.get(flow, version)
    directory = directory_of(rt, tenant)
    clean = check_input(entry, input, requester, directory)
    number = entry.version
    approval_id = approval_id or uuid.uuid4().hex
    now = iso(rt.now())
    approval = Approval(
        id=approval_id, tenant=tenant, flow=flow, flow_version=number, requester=requester,
        input=clean, created_at=now, updated_at=now, start_pending=True,
    )
    started = NewEvent("Approval Started", actor=requester, data={"flow": flow, "flow_version": number,
                                                                  "input": clean})
    rt.store.create(approval, [started])
    emit(rt, "Approval Started", detail(approval, None, requester=requester))
    # Written, so it will run: if this start fails (or this function dies now) the sweep starts it.
    # Failing the request instead would make the caller's retry a second approval.
    start_execution(rt, approval)
    return approval_id


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
    """Record `user`'s decision on the open stage of `step` (for themself, or for the assignee they
    stand in for); if it settles the stage, complete the Task's token once. Raises NotFound,
    InvalidInput, StepNotOpen, AlreadyDecided, StaleRevision (409), NotAllowed (403)."""
    rt = rt or default_runtime()
    try:
        choice = Decision(decision)
    except ValueError:
        raise InvalidInput(f"decision must be approve or reject, not {decision!r}",
                           [{"field": "decision", "problem": "must be approve or reject"}]) from None
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput("comment must be text", [{"field": "comment", "problem": "must be a string"}])
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        stage, assignee = acting_on(approval, step, user, directory, now)
        stage_rules.check_turn(stage, assignee)
        at = iso(now)
        record = DecisionRecord(user=assignee, decision=choice, at=at, actor=user, comment=comment)
        updated = replace(stage, decisions=[*stage.decisions, record])
        outcome = stage_rules.outcome(updated)
        updated = settled(updated, outcome, at)
        events = [NewEvent("Decision Recorded", actor=user, acting_for=record.acting_for,
                           data={"step": step, "stage": stage.stage, "decision": choice.value, "comment": comment})]
        if outcome is not Outcome.OPEN:
            events.append(NewEvent("Step Settled", actor=user, data={"step": step, "stage": stage.stage,
                                                                       "outcome": outcome.value}))
        # The stage must still be open: the approval's revision already orders writers, this
        # makes "settled exactly once" hold even for a writer that skips the revision.
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], events=events, result=(updated, outcome, record))

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None  # change() never returns None
    stage, outcome, record = planned.result
    if outcome is not Outcome.OPEN:
        complete_token(rt, approval, stage)
    emit(rt, "Decision Recorded", detail(approval, step, user=user, acting_for=record.acting_for,
                                         decision=choice.value, settled=outcome.value))
    return approval
