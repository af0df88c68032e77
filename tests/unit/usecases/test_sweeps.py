"""The sweeps (SweepFunction): tokens left pending, events the bus refused, executions not started,
scheduled reminders that fell due."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals.commands.decide import decide
from approvals.commands.start import start_approval
from approvals.domain import ApprovalStatus
from approvals.queries.approval import get_approval
from approvals.sweeps.callbacks import sweep_callbacks
from approvals.sweeps.outbox import sweep_outbox
from approvals.sweeps.reminders import due_reminders
from approvals.sweeps.starts import START_AFTER, START_GIVE_UP, sweep_starts
from approvals.unit_of_work.tokens import LEFTOVER_AFTER
from tests.fakes import Completion, MemoryRuntime

from .machine import TENANT, Run, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}


def decided_while_step_functions_was_down(rt: MemoryRuntime) -> tuple[Run, str]:
    """bob approves; SendTaskSuccess fails (not TokenGone): the function dies with the stage settled
    in the table and its callback `pending`."""
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    rt.sfn.unavailable = True
    with pytest.raises(RuntimeError):
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    rt.sfn.unavailable = False
    return run, token


# --- callbacks -----------------------------------------------------------------------------------


def test_a_token_left_pending_is_completed_by_the_sweep_after_the_leftover_delay(rt: MemoryRuntime) -> None:
    run, token = decided_while_step_functions_was_down(rt)
    (pending,) = rt.store.pending_callbacks("2100")
    assert (pending["approval_id"], pending["step"], pending["callback"]) == (run.id, "manager", "pending")
    assert rt.sfn.completions == []

    rt.clock.advance(LEFTOVER_AFTER - timedelta(seconds=1))
    assert sweep_callbacks(rt=rt) == []  # may still be in the hands of the function that settled it

    rt.clock.advance(seconds=1)
    assert sweep_callbacks(rt=rt) == [{"tenant": TENANT, "approval_id": run.id}]

    assert rt.sfn.completions == [Completion(token, True, output={"step": "manager", "outcome": "approved"})]
    assert rt.store.pending_callbacks("2100") == [] and rt.store.load(TENANT, run.id).steps[0].callback == "sent"
    rt.clock.advance(minutes=5)
    assert sweep_callbacks(rt=rt) == [] and len(rt.sfn.completions) == 1


def test_the_next_request_on_the_approval_completes_a_leftover_too(rt: MemoryRuntime) -> None:
    run, token = decided_while_step_functions_was_down(rt)
    rt.clock.advance(LEFTOVER_AFTER)
    get_approval(TENANT, run.id, "ann", rt=rt)  # a read is enough
    assert [c.token for c in rt.sfn.completions] == [token]
    assert sweep_callbacks(rt=rt) == []


def test_a_leftover_whose_task_timed_out_meanwhile_is_marked_gone(rt: MemoryRuntime) -> None:
    run, token = decided_while_step_functions_was_down(rt)
    rt.sfn.time_out(token)
    rt.clock.advance(minutes=5)
    assert sweep_callbacks(rt=rt) == [{"tenant": TENANT, "approval_id": run.id}]
    assert rt.sfn.completions == [] and rt.store.load(TENANT, run.id).steps[0].callback == "gone"
    assert rt.store.pending_callbacks("2100") == []


# --- outbox --------------------------------------------------------------------------------------


def test_a_refused_event_waits_in_the_outbox_and_the_sweep_publishes_it(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    rt.events.refusing = True

    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)  # the decision stands, the token is completed

    assert [c.token for c in rt.sfn.completions] == [token]
    assert "Decision Recorded" not in rt.events.types
    (kept,) = rt.store.pending_outbox("2100")
    assert kept["detail_type"] == "Decision Recorded"
    rt.clock.advance(minutes=5)
    assert sweep_outbox(rt=rt) == 0 and len(rt.store.pending_outbox("2100")) == 1  # refused again: kept

    rt.events.refusing = False
    assert sweep_outbox(rt=rt) == 1

    (published,) = rt.events.of("Decision Recorded")
    assert (published["approval_id"], published["user"], published["settled"]) == (run.id, "bob", "approved")
    assert rt.store.pending_outbox("2100") == [] and sweep_outbox(rt=rt) == 0


# --- starts --------------------------------------------------------------------------------------


def test_an_approval_whose_start_was_refused_is_started_by_the_sweep_once(rt: MemoryRuntime) -> None:
    rt.sfn.refuse_starts = True
    approval_id = start_approval(TENANT, "leave-request", None, "ann", LEAVE, approval_id="req-1", rt=rt)
    assert rt.sfn.executions == {} and rt.store.load(TENANT, approval_id).start_pending
    assert rt.events.types == ["Approval Started"]  # written, so it will run
    rt.sfn.refuse_starts = False

    assert sweep_starts(rt=rt) == []  # may still be starting in the request that wrote it
    rt.clock.advance(START_AFTER)
    assert sweep_starts(rt=rt) == [{"tenant": TENANT, "approval_id": "req-1", "started": True, "failed": False}]

    assert [e.name for e in rt.sfn.executions.values()] == ["req-1"]
    assert not rt.store.load(TENANT, approval_id).start_pending
    assert sweep_starts(rt=rt) == []


def test_an_approval_that_never_starts_fails_after_an_hour_and_is_archived(rt: MemoryRuntime) -> None:
    rt.sfn.refuse_starts = True
    approval_id = start_approval(TENANT, "leave-request", None, "ann", LEAVE, approval_id="req-1", rt=rt)
    rt.clock.advance(START_AFTER)
    assert sweep_starts(rt=rt)[0]["failed"] is False and rt.store.load(TENANT, approval_id).start_pending

    rt.clock.advance(START_GIVE_UP)
    assert sweep_starts(rt=rt) == [{"tenant": TENANT, "approval_id": "req-1", "started": False, "failed": True}]

    approval = rt.store.load(TENANT, approval_id)
    assert approval.status is ApprovalStatus.FAILED and approval.completed_at and not approval.start_pending
    (completed,) = rt.events.of("Approval Completed")
    assert (completed["outcome"], completed["cc"]) == ("failed", ["ann"])
    assert rt.store.archive_pointer(TENANT, approval_id) in rt.archive.blobs
    assert rt.store.pending_starts("2100") == []


# --- reminders -----------------------------------------------------------------------------------


def test_scheduled_reminders_fall_due_once_each(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)  # remind: [1d, 2d]
    run.open("Manager approval")
    opened = rt.now()

    assert due_reminders(opened + timedelta(days=1, seconds=-1), rt=rt) == []
    sent = due_reminders(opened + timedelta(days=1), rt=rt)
    assert sent == [{"tenant": TENANT, "approval_id": run.id, "step": "manager", "stage": 0, "to": ["bob"]}]
    assert due_reminders(opened + timedelta(days=1, hours=1), rt=rt) == []  # that one was sent
    (due,) = rt.events.of("Reminder Due")
    assert (due["kind"], due["to"], due["requester"]) == ("scheduled", ["bob"], "ann")

    assert len(due_reminders(opened + timedelta(days=2), rt=rt)) == 1
    assert rt.store.history(TENANT, run.id)[-1]["data"]["number"] == 2
    assert due_reminders(opened + timedelta(days=30), rt=rt) == [] and rt.store.due_stages("2100") == []


def test_no_reminder_for_a_stage_settled_before_it_fell_due(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert due_reminders(rt.now() + timedelta(days=3), rt=rt) == [] and rt.events.of("Reminder Due") == []
