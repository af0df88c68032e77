"""queries.inbox (待办: the store's inbox entries, derived from the open stages' `waiting_for`),
queries.approval and queries.history as the caller may see them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from approvals.commands.decide import decide
from approvals.domain import NotFound
from approvals.domain.archive_document import verify_chain
from approvals.queries.approval import get_approval
from approvals.queries.history import history
from approvals.queries.inbox import inbox
from tests.fakes import MemoryRuntime

from .machine import TENANT, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}


def test_the_inbox_lists_what_waits_for_the_caller_oldest_first(rt: MemoryRuntime) -> None:
    ann = begin(rt, "leave-request", "ann", LEAVE, approval_id="leave-ann")
    rt.clock.advance(minutes=1)
    dave = begin(rt, "leave-request", "dave", {**LEAVE, "days": 2}, approval_id="leave-dave")
    dave.open("Manager approval")  # dave's manager is bob too, and his stage opens first
    rt.clock.advance(minutes=1)
    ann.open("Manager approval")

    assert inbox(TENANT, "bob", rt=rt) == [
        {"approval_id": "leave-dave", "flow": "leave-request", "step": "manager", "requester": "dave",
         "opened_at": "2026-12-01T09:01:00.000Z", "deadline": "2026-12-04T09:01:00.000Z", "stage": 0,
         "acting_for": None},
        {"approval_id": "leave-ann", "flow": "leave-request", "step": "manager", "requester": "ann",
         "opened_at": "2026-12-01T09:02:00.000Z", "deadline": "2026-12-04T09:02:00.000Z", "stage": 0,
         "acting_for": None},
    ]
    assert inbox(TENANT, "carol", rt=rt) == [] and inbox(TENANT, "ann", rt=rt) == []

    decide(TENANT, "leave-dave", "manager", "bob", "approve", rt=rt)
    assert [e["approval_id"] for e in inbox(TENANT, "bob", rt=rt)] == ["leave-ann"]
    assert inbox("globex", "bob", rt=rt) == []  # another tenant's inbox (and no directory)


def test_a_sequential_stage_waits_for_one_at_a_time(rt: MemoryRuntime) -> None:
    run = begin(rt, "contract-review", "ann", {"counterparty": "Globex", "value": 1, "region": "US"})
    run.open("Legal approval")
    assert [len(inbox(TENANT, u, rt=rt)) for u in ("gina", "hank")] == [1, 0]
    decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)
    assert [len(inbox(TENANT, u, rt=rt)) for u in ("gina", "hank")] == [0, 1]


def test_a_delegate_sees_what_waits_for_the_one_away(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    assert inbox(TENANT, "dave", rt=rt) == []
    rt.clock.set(datetime(2026, 12, 20, 0, 0, tzinfo=UTC))  # the delegation starts
    (entry,) = inbox(TENANT, "dave", rt=rt)
    assert (entry["approval_id"], entry["acting_for"]) == (run.id, "bob")
    rt.clock.set(datetime(2027, 1, 5, 0, 0, tzinfo=UTC))  # and ends
    assert inbox(TENANT, "dave", rt=rt) == []


def test_who_may_read_an_approval_and_its_history(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    for user in ("ann", "bob"):
        assert get_approval(TENANT, run.id, user, rt=rt).to_api()["steps"][0]["assignees"] == ["bob"]
    with pytest.raises(NotFound):
        get_approval(TENANT, run.id, "erin", rt=rt)
    with pytest.raises(NotFound):
        history(TENANT, run.id, "erin", rt=rt)
    with pytest.raises(NotFound):
        get_approval("globex", run.id, "ann", rt=rt)  # keys start with the tenant
    trail = history(TENANT, run.id, "bob", rt=rt)
    assert trail["source"] == "table"
    assert [e["type"] for e in trail["events"]] == ["Approval Started", "Step Opened"]
    assert verify_chain(trail["events"], head=rt.store.load(TENANT, run.id).last_hash) is None
