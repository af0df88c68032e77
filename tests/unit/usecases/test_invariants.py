"""Invariants the fakes first showed broken (each was a product bug): nothing accepted is lost, one
failing token stops nothing else, every approval ends settled, every use case runs on the ports."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from approvals.commands.comment import comment
from approvals.commands.decide import decide
from approvals.commands.start import start_approval
from approvals.commands.withdraw import withdraw
from approvals.domain import ApprovalFinished, StaleRevision
from approvals.domain.archive_document import decode
from approvals.machine.open_step import open_step
from approvals.queries.preview import preview
from approvals.sweeps.callbacks import sweep_callbacks
from approvals.sweeps.outbox import sweep_outbox
from approvals.sweeps.starts import START_GIVE_UP, sweep_starts
from approvals.unit_of_work.ports import WriteContended
from approvals.unit_of_work.read_modify_write import BACKOFF_BASE, BACKOFF_CAP, MAX_ATTEMPTS, backoff
from tests.fakes import MemoryRuntime

from .machine import TENANT, Run, begin, task_event

LEAVE = {"days": 1, "start_date": "2026-12-10"}


def test_an_accepted_comment_is_never_lost(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)
    run.resume("Manager approval", token)
    key = run.finish("rejected")["archive_key"]
    # Its record is archived as it was: a comment now is refused (409), so nothing accepted is lost.
    with pytest.raises(ApprovalFinished):
        comment(TENANT, run.id, "ann", "Why?", rt=rt)
    assert "Comment Added" not in [e["type"] for e in decode(rt.archive.blobs[key])["events"]]
    assert "Comment Added" not in [e["type"] for e in rt.store.history(TENANT, run.id)]


def test_a_committed_decision_is_published_even_if_the_token_completion_failed(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    rt.sfn.unavailable = True
    with pytest.raises(RuntimeError):
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    rt.sfn.unavailable = False
    rt.clock.advance(minutes=5)
    sweep_callbacks(rt=rt)
    sweep_outbox(rt=rt)
    assert [c.token for c in rt.sfn.completions] == [token]
    assert "Decision Recorded" in rt.events.types


def test_one_failing_leftover_does_not_stop_the_others(rt: MemoryRuntime) -> None:
    runs = [begin(rt, "leave-request", who, LEAVE) for who in ("ann", "dave")]
    tokens = {run.id: run.open("Manager approval") for run in runs}
    rt.sfn.unavailable = True
    for run in runs:
        with pytest.raises(RuntimeError):
            decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    rt.sfn.unavailable = False
    first, second = (str(i["approval_id"]) for i in rt.store.pending_callbacks("2100"))
    rt.sfn.failing[tokens[first]] = RuntimeError("InvalidOutput")
    rt.clock.advance(minutes=5)
    try:
        sweep_callbacks(rt=rt)
    except RuntimeError:
        pass
    assert [c.token for c in rt.sfn.completions] == [tokens[second]]


def test_an_approval_withdrawn_before_it_started_is_still_finished(rt: MemoryRuntime) -> None:
    rt.sfn.refuse_starts = True
    approval_id = start_approval(TENANT, "leave-request", None, "ann", LEAVE, rt=rt)
    withdraw(TENANT, approval_id, "ann", rt=rt)
    rt.sfn.refuse_starts = False
    for _ in range(3):
        rt.clock.advance(START_GIVE_UP + timedelta(minutes=1))
        sweep_starts(rt=rt)
    assert rt.store.load(TENANT, approval_id).completed_at
    assert [e["outcome"] for e in rt.events.of("Approval Completed")] == ["withdrawn"]


def test_preview_runs_on_the_runtime_it_is_given(rt: MemoryRuntime) -> None:
    rows = preview(TENANT, "leave-request", "ann", {"days": 5, "start_date": "2026-12-10"}, rt=rt)
    assert [r["approvers"] for r in rows if r["step"] == "manager"] == [["bob"]]


def test_an_event_is_written_with_its_change_and_published_once_it_can_be(rt: MemoryRuntime) -> None:
    """The outbox: a change's business events are in its transaction; a refused (or never attempted,
    the process having died) put leaves them there, and the sweep puts them with the same id."""
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    rt.events.refusing = True
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert "Decision Recorded" not in rt.events.types
    (left,) = [i for i in rt.store.pending_outbox("2100") if i["detail_type"] == "Decision Recorded"]
    rt.events.refusing = False
    assert sweep_outbox(rt=rt) == 0  # younger than a minute: its own change may still be putting it
    rt.clock.advance(minutes=2)
    assert sweep_outbox(rt=rt) >= 1 and rt.store.pending_outbox("2100") == []
    (published,) = [d for t, d in rt.events.events if t == "Decision Recorded"]
    assert published["event_id"] == json.loads(left["detail"])["event_id"]
    assert len(set(rt.events.ids)) == len(rt.events.ids)  # every event its own id



def test_a_contended_write_is_tried_again_after_a_growing_random_wait(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")

    def contended() -> None:
        raise WriteContended("the write was contended (['TransactionConflict'])")

    rt.store.before_commit += [contended] * 3
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert len(rt.slept) == 3 and all(0 <= wait <= BACKOFF_CAP for wait in rt.slept)
    assert [e["user"] for e in rt.events.of("Decision Recorded")] == ["bob"]  # recorded once
    rt.store.before_commit += [contended] * MAX_ATTEMPTS
    with pytest.raises(StaleRevision, match="kept changing"):
        comment(TENANT, run.id, "ann", "still there?", rt=rt)
    assert "Comment Added" not in [e["type"] for e in rt.store.history(TENANT, run.id)]


def test_the_wait_grows_to_a_cap() -> None:
    widest = [backoff(n, draw=lambda low, high: high) for n in range(10)]
    assert widest[:4] == [BACKOFF_BASE, 2 * BACKOFF_BASE, 4 * BACKOFF_BASE, 8 * BACKOFF_BASE]
    assert max(widest) == BACKOFF_CAP and all(backoff(n, draw=lambda low, high: low) == 0 for n in range(10))


def _retry_invoke(rt: MemoryRuntime, run: Run, name: str, entered_at: str) -> str:
    """Step Functions retrying the invoke of Task `name` (same entry, a new token)."""
    token = rt.sfn.wait_on(run.new_token(name))
    payload = {**run.payload(name, token), "entered_at": entered_at}
    run.opened.append(open_step(task_event(open_step, payload), rt=rt))
    return token


def test_a_retried_open_with_a_new_token_reuses_its_stage(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    first = rt.sfn.wait_on(run.new_token("Manager approval"))
    payload = {**run.payload("Manager approval", first), "entered_at": "2026-12-01T09:00:00.000Z"}
    open_step(task_event(open_step, payload), rt=rt)
    rt.sfn.time_out(first)  # the retry's token replaces it: the first can no longer complete the Task
    second = _retry_invoke(rt, run, "Manager approval", "2026-12-01T09:00:00.000Z")
    (stage,) = rt.store.load(TENANT, run.id).steps  # one stage, not a second one
    assert stage.task_token == second and len(rt.events.of("Step Opened")) == 1
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert [c.token for c in rt.sfn.completions] == [second]


def test_a_retried_open_after_the_stage_settled_hands_its_outcome_to_the_new_token(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    first = rt.sfn.wait_on(run.new_token("Manager approval"))
    payload = {**run.payload("Manager approval", first), "entered_at": "2026-12-01T09:00:00.000Z"}
    open_step(task_event(open_step, payload), rt=rt)
    rt.sfn.time_out(first)  # Step Functions retried the invoke: the first token is dead
    decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)  # completes the dead token in vain
    assert rt.sfn.completions == [] and rt.store.load(TENANT, run.id).steps[0].callback == "gone"
    second = _retry_invoke(rt, run, "Manager approval", "2026-12-01T09:00:00.000Z")
    assert [(c.token, c.succeeded, c.error) for c in rt.sfn.completions] == [(second, False, "Approval.Rejected")]
    assert len(rt.store.load(TENANT, run.id).steps) == 1 and len(rt.events.of("Decision Recorded")) == 1
