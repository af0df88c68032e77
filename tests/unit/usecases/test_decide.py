"""machine.open_step + commands.decide: a stage opens with its token; a decision that settles it
completes the token exactly once; anything after that is refused with the domain's errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from approvals.commands.decide import decide
from approvals.domain import (
    AlreadyDecided,
    InvalidInput,
    NotAllowed,
    NotFound,
    StaleRevision,
    StepNotOpen,
    StepStatus,
)
from approvals.domain.archive_document import verify_chain
from approvals.machine.open_step import open_step
from approvals.queries.inbox import inbox
from tests.fakes import Completion, MemoryRuntime

from .machine import TENANT, Run, begin, task_event

LEAVE_1_DAY = {"days": 1, "start_date": "2026-12-10"}
LEAVE_5_DAYS = {"days": 5, "start_date": "2026-12-10"}
NEW_VENDOR_PO = {"amount": 500, "vendor": "Initech", "cost_center": "cc-1", "new_vendor": True}


def stage(rt: MemoryRuntime, run: Run, step: str, number: int = 0) -> StepStatus:
    found = [s for s in rt.store.load(TENANT, run.id).steps if (s.step, s.stage) == (step, number)]
    assert found, f"no stage {number} of {step}"
    return found[0].status


def test_open_step_stores_the_stage_with_the_token_the_task_waits_on(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")

    assert run.opened == [{"step": "manager", "stage": 0, "status": "open", "assignees": ["bob"]}]
    (manager,) = rt.store.load(TENANT, run.id).steps
    assert (manager.task_token, manager.assignees, manager.mode) == (token, ["bob"], "any")
    assert manager.deadline == "2026-12-04T09:00:00.000Z"  # timeout 3d
    assert manager.remind_seconds == [86400, 172800]
    (opened,) = rt.events.of("Step Opened")
    assert (opened["step"], opened["assignees"], opened["deadline"]) == ("manager", ["bob"], manager.deadline)
    assert rt.sfn.completions == []  # the Task waits


def test_a_repeated_open_step_invocation_changes_nothing(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")
    revision = rt.store.load(TENANT, run.id).revision
    again = open_step(task_event(open_step, run.payload("Manager approval", token)), rt=rt)  # a Lambda retry
    assert again == {"step": "manager", "status": "open", "repeated": True}
    assert rt.store.load(TENANT, run.id).revision == revision and len(rt.events.of("Step Opened")) == 1


def test_approve_succeeds_the_token_once_and_a_second_decision_is_refused(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")
    rt.clock.advance(minutes=5)

    approval = decide(TENANT, run.id, "manager", "bob", "approve", "enjoy", rt=rt)

    assert rt.sfn.completions == [Completion(token, True, output={"step": "manager", "outcome": "approved"})]
    assert run.resume("Manager approval", token) == "Director needed?"
    (manager,) = approval.steps
    assert (manager.status, manager.settled_at) == (StepStatus.APPROVED, "2026-12-01T09:05:00.000Z")
    assert rt.store.load(TENANT, run.id).steps[0].callback == "sent" and rt.store.pending_callbacks("2100") == []
    assert rt.events.of("Decision Recorded")[-1] == {
        "tenant": TENANT, "approval_id": run.id, "flow": "leave-request", "flow_version": 1, "step": "manager",
        "user": "bob", "acting_for": None, "decision": "approve", "settled": "approved"}
    history = rt.store.history(TENANT, run.id)
    assert [e["type"] for e in history][-2:] == ["Decision Recorded", "Step Settled"]
    assert history[-2]["data"] == {"step": "manager", "stage": 0, "decision": "approve", "comment": "enjoy"}
    assert verify_chain(history, head=rt.store.load(TENANT, run.id).last_hash) is None

    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)
    assert len(rt.sfn.completions) == 1


def test_any_mode_the_first_of_two_settles_and_the_other_is_refused(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_5_DAYS)
    first = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert run.resume("Manager approval", first) == "Director needed?"
    token = run.open("Director approval")
    assert run.opened[-1]["assignees"] == ["bob", "carol"]  # bob approved before, but carol has not

    decide(TENANT, run.id, "director", "carol", "approve", rt=rt)

    assert rt.sfn.completions_of(token) == [Completion(token, True, output={"step": "director", "outcome": "approved"})]
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "director", "bob", "approve", rt=rt)
    assert len(rt.sfn.completions_of(token)) == 1 and run.resume("Director approval", token) == "Hr approval"


def test_all_mode_waits_for_everyone_then_succeeds_once(rt: MemoryRuntime) -> None:
    run = begin(rt, "purchase-order", "ann", NEW_VENDOR_PO)
    managers = run.open("Managers approval")  # sequential: bob, then carol
    with pytest.raises(NotAllowed):
        decide(TENANT, run.id, "managers", "carol", "approve", rt=rt)  # not her turn yet
    decide(TENANT, run.id, "managers", "bob", "approve", rt=rt)
    assert rt.sfn.completions == []
    decide(TENANT, run.id, "managers", "carol", "approve", rt=rt)
    assert run.resume("Managers approval", managers) == "Amount routing"
    run.open("Legal approval")
    security = run.open("Security approval")

    decide(TENANT, run.id, "security", "jack", "approve", rt=rt)
    assert rt.sfn.completions_of(security) == [] and stage(rt, run, "security") is StepStatus.OPEN
    with pytest.raises(AlreadyDecided):
        decide(TENANT, run.id, "security", "jack", "approve", rt=rt)
    decide(TENANT, run.id, "security", "kate", "approve", rt=rt)

    assert rt.sfn.completions_of(security) == [Completion(security, True, {"step": "security", "outcome": "approved"})]
    assert run.resume("Security approval", security) == "None"  # the end of its Parallel branch
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "security", "kate", "approve", rt=rt)
    assert stage(rt, run, "legal") is StepStatus.OPEN  # the other branch still waits


def test_reject_fails_the_token_with_approval_rejected(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")

    decide(TENANT, run.id, "manager", "bob", "reject", "not now", rt=rt)

    assert rt.sfn.completions == [Completion(token, False, error="Approval.Rejected", cause="manager rejected")]
    assert run.resume("Manager approval", token) == "Rejected"
    assert stage(rt, run, "manager") is StepStatus.REJECTED
    assert rt.events.of("Decision Recorded")[-1]["settled"] == "rejected"
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)


def test_all_mode_one_reject_settles_at_once(rt: MemoryRuntime) -> None:
    run = begin(rt, "purchase-order", "ann", NEW_VENDOR_PO)
    security = run.open("Security approval")
    decide(TENANT, run.id, "security", "jack", "reject", rt=rt)
    assert [c.error for c in rt.sfn.completions_of(security)] == ["Approval.Rejected"]
    assert run.resume("Security approval", security) == "Rejected"  # caught by the Parallel
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "security", "kate", "approve", rt=rt)


def test_who_may_not_decide(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")
    with pytest.raises(NotFound):  # someone who takes no part does not learn the approval exists
        decide(TENANT, run.id, "manager", "erin", "approve", rt=rt)
    with pytest.raises(NotAllowed):  # the requester may see it, not decide on it
        decide(TENANT, run.id, "manager", "ann", "approve", rt=rt)
    with pytest.raises(InvalidInput):
        decide(TENANT, run.id, "manager", "bob", "maybe", rt=rt)
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "hr", "bob", "approve", rt=rt)
    with pytest.raises(NotFound):
        decide(TENANT, "no-such-approval", "manager", "bob", "approve", rt=rt)
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    run.resume("Manager approval", token)
    run.open("Hr approval")
    with pytest.raises(NotAllowed):  # bob was on a stage, so he may see it: not this one's assignee
        decide(TENANT, run.id, "hr", "bob", "approve", rt=rt)


def test_a_pinned_revision_that_moved_on_is_stale(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    run.open("Manager approval")
    seen = rt.store.load(TENANT, run.id).revision
    with pytest.raises(StaleRevision):  # the caller saw the approval before the step opened
        decide(TENANT, run.id, "manager", "bob", "approve", revision=seen - 1, rt=rt)
    assert rt.sfn.completions == []
    decide(TENANT, run.id, "manager", "bob", "approve", revision=seen, rt=rt)
    assert len(rt.sfn.completions) == 1


def test_two_approvers_at_once_settle_the_stage_once(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE_5_DAYS)
    first = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    run.resume("Manager approval", first)
    token = run.open("Director approval")
    # bob's decision lands between carol's read and her write: her write is stale, her retry sees it settled.
    def bob_rejects() -> None:
        decide(TENANT, run.id, "director", "bob", "reject", rt=rt)

    rt.store.before_commit.append(bob_rejects)

    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "director", "carol", "approve", rt=rt)

    assert rt.sfn.completions_of(token) == [Completion(token, False, error="Approval.Rejected",
                                                       cause="director rejected")]
    director = rt.store.load(TENANT, run.id).current("director")
    assert director is not None and [d.user for d in director.decisions] == ["bob"]
    assert run.resume("Director approval", token) == "Rejected"


def test_a_delegate_decides_for_the_assignee_away(rt: MemoryRuntime) -> None:
    rt.clock.set(datetime(2026, 12, 21, 9, 0, tzinfo=UTC))  # bob is away: dave stands in
    run = begin(rt, "leave-request", "ann", LEAVE_1_DAY)
    token = run.open("Manager approval")
    assert [e["acting_for"] for e in inbox(TENANT, "dave", rt=rt)] == ["bob"]
    assert rt.store.load(TENANT, run.id).steps[0].delegates == {"bob": "dave"}

    decide(TENANT, run.id, "manager", "dave", "approve", rt=rt)

    assert [c.succeeded for c in rt.sfn.completions_of(token)] == [True]
    recorded = [e for e in rt.store.history(TENANT, run.id) if e["type"] == "Decision Recorded"]
    assert [(e["actor"], e["acting_for"]) for e in recorded] == [("dave", "bob")]
    assert rt.events.of("Decision Recorded")[-1]["acting_for"] == "bob"


def test_a_stage_whose_every_assignee_is_exempt_settles_as_it_opens(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "bob", LEAVE_5_DAYS)  # bob's manager is carol
    manager = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "carol", "approve", rt=rt)
    run.resume("Manager approval", manager)

    director = run.open("Director approval")  # bob (the requester) and carol (approved already)

    assert run.opened[-1] == {"step": "director", "stage": 0, "status": "approved", "assignees": ["bob", "carol"]}
    assert rt.sfn.completions_of(director) == [Completion(director, True, {"step": "director", "outcome": "approved"})]
    assert run.resume("Director approval", director) == "Hr approval"
    assert rt.store.history(TENANT, run.id)[-1]["data"]["reason"] == "auto_approve"
    assert [e["step"] for e in rt.events.of("Step Opened")] == ["manager"]  # nobody is asked
    assert inbox(TENANT, "carol", rt=rt) == []


def test_nobody_to_ask_falls_back_to_the_flows_fallback_approvers(rt: MemoryRuntime) -> None:
    run = begin(rt, "purchase-order", "ceo", {"amount": 500, "vendor": "Initech", "cost_center": "cc-1"})
    run.open("Managers approval")  # the ceo has no manager: if_no_approvers falls back to procurement-admin
    assert run.opened[-1]["assignees"] == ["carol"]
    assert [e["step"] for e in inbox(TENANT, "carol", rt=rt)] == ["managers"]
