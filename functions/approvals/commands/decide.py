"""Decide on an open step: approve or reject (会签, 或签, sequential, quorum, percent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ..clock import iso
from ..commands.common import OPEN_ONLY, acting_on, directory_of, settled
from ..domain import Approval, Decision, DecisionRecord, InvalidInput, Outcome, StaleRevision, Step
from ..domain import stage as stage_rules
from ..domain.audit import NewEvent
from ..unit_of_work.ports import Publication, WriteContended
from ..unit_of_work.publish import business_event, publish
from ..unit_of_work.read_modify_write import Change, backoff, mutate
from ..unit_of_work.tokens import complete_token, finish_leftovers
from ..unit_of_work.writes import StepWrite, Vote
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

    def record_of(approval: Approval, now: datetime) -> tuple[Step, DecisionRecord, Step, Outcome]:
        stage, assignee = acting_on(approval, step, user, directory, now)
        stage_rules.check_turn(stage, assignee)
        record = DecisionRecord(user=assignee, decision=choice, at=iso(now), actor=user, comment=comment)
        updated = replace(stage, decisions=[*stage.decisions, record])
        return stage, record, updated, stage_rules.outcome(updated)

    def told(approval: Approval, record: DecisionRecord, outcome: Outcome) -> Publication:
        return business_event("Decision Recorded", approval, step, user=user, acting_for=record.acting_for,
                              decision=choice.value, settled=outcome.value)

    if revision is None:
        counted = _vote(rt, tenant, approval_id, record_of, told)
        if counted is not None:
            return counted

    def change(approval: Approval, now: datetime) -> Change:
        stage, record, updated, outcome = record_of(approval, now)
        updated = settled(updated, outcome, record.at)
        events: list[NewEvent] = []
        if outcome is not Outcome.OPEN:
            # The stage's decisions enter the approval's hash chain with its settlement.
            events.append(NewEvent("Step Settled", actor=user, data={
                "step": step, "stage": stage.stage, "outcome": outcome.value,
                "decisions": [[d.user, d.decision.value, d.actor] for d in updated.decisions]}))
        # The stage must still be open: the approval's revision already orders writers, this
        # makes "settled exactly once" hold even for a writer that skips the revision.
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], events=events, result=(updated, outcome, record),
                      publish=[told(approval, record, outcome)])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None  # change() never returns None
    stage, outcome, _ = planned.result
    if outcome is not Outcome.OPEN:
        complete_token(rt, approval, stage)
    return approval


# A stage item written before decisions were counted on it has no counts: after this many refused
# votes in a row the decision goes through the approval's revision, which writes them.
VOTE_ATTEMPTS = 8


def _vote(
    rt: Runtime,
    tenant: str,
    approval_id: str,
    record_of: Callable[[Approval, datetime], tuple[Step, DecisionRecord, Step, Outcome]],
    told: Callable[[Approval, DecisionRecord, Outcome], Publication],
) -> Approval | None:
    """Count the decision on its stage alone when it does not settle a counting stage (store.vote);
    None when it must be a change of the approval (it settles the stage, or the stage is not
    settled by counting). Decisions of many approvers at once so do not race on one revision."""
    for attempt in range(VOTE_ATTEMPTS):
        approval = rt.store.load(tenant, approval_id)
        if attempt == 0:
            finish_leftovers(rt, approval)
        stage, record, updated, outcome = record_of(approval, rt.now())
        tally = stage_rules.tally(stage)
        if tally is None or outcome is not Outcome.OPEN:
            return None
        try:
            rt.store.vote(approval, Vote(stage=stage, record=record, tally=tally),
                          outbox=[publication := told(approval, record, outcome)])
        except (StaleRevision, WriteContended):
            rt.sleep(backoff(attempt))  # the stage moved (or the write was contended): read it again
            continue
        publish(rt, [publication])
        approval.steps = [replace(updated, ver=stage.ver + 1) if s is stage else s for s in approval.steps]
        return approval
    return None
