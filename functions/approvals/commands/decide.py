"""Decide on an open step: approve or reject (会签, 或签, sequential, quorum, percent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, acting_on, directory_of, settled
from ..domain import Approval, Decision, DecisionRecord, InvalidInput, Outcome
from ..domain import stage as stage_rules
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.tokens import complete_token
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


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
        told = business_event("Decision Recorded", approval, step, user=user, acting_for=record.acting_for,
                     decision=choice.value, settled=outcome.value)
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], events=events, result=(updated, outcome, record),
                      publish=[told])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None  # change() never returns None
    stage, outcome, _ = planned.result
    if outcome is not Outcome.OPEN:
        complete_token(rt, approval, stage)
    return approval
