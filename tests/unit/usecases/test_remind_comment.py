"""commands.remind (催办, at most once an hour per step: TooSoon, answered 429) and commands.comment."""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus

import pytest

from approvals.commands.comment import MAX_COMMENT, comment
from approvals.commands.decide import decide
from approvals.commands.remind import remind
from approvals.domain import (
    ApprovalFinished,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    NotRequester,
    StepNotOpen,
    TooSoon,
)
from approvals.domain.archive_document import verify_chain
from approvals.queries.approval import get_approval
from tests.fakes import MemoryRuntime

from .machine import DIRECTORY, TENANT, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}


def test_the_requester_reminds_whoever_the_open_step_waits_for(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    rt.clock.advance(minutes=10)

    remind(TENANT, run.id, "ann", rt=rt)

    (due,) = rt.events.of("Reminder Due")
    assert (due["step"], due["stage"], due["to"], due["kind"], due["requester"]) == ("manager", 0, ["bob"], "manual",
                                                                                     "ann")
    recorded = rt.store.history(TENANT, run.id)[-1]
    assert (recorded["type"], recorded["actor"], recorded["data"]) == (
        "Reminder Due", "ann", {"step": "manager", "stage": 0, "kind": "manual", "to": ["bob"]})
    assert rt.store.load(TENANT, run.id).steps[0].last_reminded_at == "2026-12-01T09:10:00.000Z"


def test_a_second_reminder_within_the_hour_is_too_soon(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    remind(TENANT, run.id, "ann", rt=rt)
    rt.clock.advance(minutes=30)

    with pytest.raises(TooSoon) as refused:
        remind(TENANT, run.id, "ann", rt=rt)

    assert refused.value.retry_after == 30 * 60  # the Retry-After header
    assert (refused.value.status, refused.value.code) == (HTTPStatus.TOO_MANY_REQUESTS, "rate_limited")
    assert isinstance(refused.value, Conflict)
    assert len(rt.events.of("Reminder Due")) == 1
    rt.clock.advance(minutes=29, seconds=59, milliseconds=500)
    with pytest.raises(TooSoon) as still:
        remind(TENANT, run.id, "ann", rt=rt)
    assert still.value.retry_after == 1  # rounded up, never 0
    rt.clock.advance(seconds=1)
    remind(TENANT, run.id, "ann", rt=rt)
    assert len(rt.events.of("Reminder Due")) == 2


def test_who_may_remind_and_when(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    with pytest.raises(StepNotOpen):  # nothing open yet
        remind(TENANT, run.id, "ann", rt=rt)
    token = run.open("Manager approval")
    with pytest.raises(NotRequester):
        remind(TENANT, run.id, "bob", rt=rt)
    with pytest.raises(NotFound):
        remind(TENANT, run.id, "erin", rt=rt)
    decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)
    run.resume("Manager approval", token)
    run.finish("rejected")
    with pytest.raises(ApprovalFinished):
        remind(TENANT, run.id, "ann", rt=rt)


def test_a_comment_is_an_audit_event_returned_as_history_shows_it(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    rt.clock.advance(minutes=3)

    written = comment(TENANT, run.id, "bob", "Which days exactly?", rt=rt)

    history = rt.store.history(TENANT, run.id)
    assert written == history[-1]
    assert (written["type"], written["actor"], written["acting_for"], written["data"]) == (
        "Comment Added", "bob", None, {"text": "Which days exactly?"})
    assert written["at"] == "2026-12-01T09:03:00.000Z"
    assert verify_chain(history, head=rt.store.load(TENANT, run.id).last_hash) is None
    assert rt.events.of("Comment Added") == [{"tenant": TENANT, "approval_id": run.id, "flow": "leave-request",
                                              "flow_version": 1, "step": None, "user": "bob"}]
    comment(TENANT, run.id, "ann", "The 10th and 11th.", rt=rt)  # the requester takes part too
    assert [e["actor"] for e in rt.store.history(TENANT, run.id)][-2:] == ["bob", "ann"]


def test_comment_refusals(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    with pytest.raises(NotFound):
        comment(TENANT, run.id, "erin", "hello", rt=rt)
    with pytest.raises(InvalidInput):
        comment(TENANT, run.id, "bob", "   ", rt=rt)
    with pytest.raises(InvalidInput):
        comment(TENANT, run.id, "bob", "x" * (MAX_COMMENT + 1), rt=rt)
    # An admin sees every approval of the tenant but takes no part in this one.
    with_admin = {**DIRECTORY, "users": [{**u, "roles": ["admin"]} if u["id"] == "cto" else u
                                         for u in DIRECTORY["users"]]}
    rt.store.put_directory(TENANT, with_admin)
    assert get_approval(TENANT, run.id, "cto", rt=rt).id == run.id
    with pytest.raises(NotAllowed):
        comment(TENANT, run.id, "cto", "hello", rt=rt)


def test_a_delegate_comments_for_the_one_away(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    rt.clock.set(datetime(2026, 12, 22, 9, 0, tzinfo=UTC))
    written = comment(TENANT, run.id, "dave", "I am looking at it for bob.", rt=rt)
    assert (written["actor"], written["acting_for"]) == ("dave", "bob")
