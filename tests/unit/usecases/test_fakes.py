"""The fakes keep the semantics the use cases rely on from the real adapters (store.py, sfn.py):
revision-conditional commits, stage conditions, the hash chain, the index, TTL; token completion."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from approvals.adapters.store_items import approval_item, inbox_item, step_item
from approvals.domain import (
    Approval,
    ApprovalExists,
    Conflict,
    InvalidInput,
    NotFound,
    StaleRevision,
    Step,
    StepStatus,
)
from approvals.domain.archive_document import verify_chain
from approvals.domain.audit import NewEvent
from approvals.unit_of_work.ports import Publication, TokenGone
from approvals.unit_of_work.writes import StepWrite
from tests.fakes import InvalidTransaction, MemoryStore, MemoryWorkflows, memory_runtime

from .machine import DIRECTORY, T0, TENANT

AT = "2026-12-01T09:00:00.000Z"


def new_approval(approval_id: str = "a1", **more: Any) -> Approval:
    return Approval(id=approval_id, tenant=TENANT, flow="leave-request", flow_version=1, requester="ann",
                    input={"days": 1.0, "start_date": "2026-12-10"}, created_at=AT, updated_at=AT, **more)


def open_stage(**more: Any) -> Step:
    fields: dict[str, Any] = {"assignees": ["bob"], "opened_at": AT, "task_token": "t1", "remind_seconds": [3600]}
    return Step(step="manager", stage=0, status=StepStatus.OPEN, **{**fields, **more})


def created(store: MemoryStore, *events: NewEvent) -> Approval:
    store.create(new_approval(), events or [NewEvent("Approval Started", "ann", {"n": 1.0})])
    return store.load(TENANT, "a1")


def test_create_writes_revision_one_and_refuses_an_existing_id() -> None:
    store = MemoryStore()
    approval = created(store)
    assert (approval.revision, approval.event_seq) == (1, 1)
    assert approval.input == {"days": 1, "start_date": "2026-12-10"}  # numbers come back as DynamoDB's
    with pytest.raises(ApprovalExists):
        store.create(new_approval())


def test_commit_is_conditional_on_the_revision_and_all_or_nothing() -> None:
    store = MemoryStore()
    approval = created(store)
    stale = store.load(TENANT, "a1")
    store.commit(approval, "2026-12-01T09:01:00.000Z", steps=[StepWrite(open_stage(), may_create=True)])
    assert approval.revision == 2 and approval.updated_at == "2026-12-01T09:01:00.000Z"
    before = dict(store.items)
    with pytest.raises(StaleRevision):
        store.commit(stale, "2026-12-01T09:02:00.000Z", events=[NewEvent("Comment Added", "ann", {})])
    assert store.items == before and stale.revision == 1


def test_stage_writes_check_expect_and_may_create() -> None:
    store = MemoryStore()
    approval = created(store)
    store.commit(approval, AT, steps=[StepWrite(open_stage(), may_create=True)])
    # The stage exists and moved on from the version this write was computed from: read it again.
    with pytest.raises(StaleRevision):
        store.commit(approval, AT, steps=[StepWrite(open_stage(), may_create=True)])
    settled = replace(store.load(TENANT, "a1").steps[0], status=StepStatus.APPROVED)
    with pytest.raises(StaleRevision):
        store.commit(approval, AT, steps=[StepWrite(settled, expect=frozenset({StepStatus.PENDING}))])
    store.commit(approval, AT, steps=[StepWrite(settled, expect=frozenset({StepStatus.OPEN}))])
    assert store.load(TENANT, "a1").steps[0].status is StepStatus.APPROVED
    with pytest.raises(InvalidTransaction):  # DynamoDB refuses two writes to one item in a transaction
        store.commit(approval, AT, steps=[StepWrite(settled), StepWrite(settled)])


def test_events_are_hash_chained_as_verify_chain_checks_them() -> None:
    store = MemoryStore()
    approval = created(store)
    store.commit(approval, AT, events=[NewEvent("Comment Added", "bob", {"x": 2.0, "y": [1.5]}, acting_for="carol"),
                                       NewEvent("Comment Added", "ann", {})])
    events = store.history(TENANT, "a1")
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[1]["acting_for"] == "carol" and events[2]["acting_for"] is None
    assert verify_chain(events, head=store.load(TENANT, "a1").last_hash) is None
    assert approval.last_hash == events[-1]["hash"]


def test_inbox_entries_follow_who_may_decide_on_open_stages() -> None:
    store = MemoryStore()
    approval = created(store)
    stage = open_stage(assignees=["bob", "carol"], mode="sequential")
    store.commit(approval, AT, steps=[StepWrite(stage, may_create=True)])
    (entry,) = store.inbox(TENANT, "bob")
    assert entry == {k: v for k, v in inbox_item(approval, stage, "bob").items() if v is not None}
    assert store.inbox(TENANT, "carol") == []
    settled = replace(store.load(TENANT, "a1").steps[0], status=StepStatus.APPROVED, settled_at=AT, callback="pending")
    store.commit(approval, AT, steps=[StepWrite(settled, expect=frozenset({StepStatus.OPEN}))])
    assert store.inbox(TENANT, "bob") == []


def test_sweep_lists_reminders_callbacks_starts_and_outbox() -> None:
    store = MemoryStore()
    store.create(new_approval(start_pending=True))
    assert [i["id"] for i in store.pending_starts(AT)] == ["a1"]
    store.mark_started(TENANT, "a1")
    assert store.pending_starts(AT) == [] and not store.load(TENANT, "a1").start_pending
    approval = store.load(TENANT, "a1")
    store.commit(approval, AT, steps=[StepWrite(open_stage(), may_create=True)])
    assert store.due_stages("2026-12-01T09:59:59.999Z") == []
    assert [i["step"] for i in store.due_stages("2026-12-01T10:00:00.000Z")] == ["manager"]
    settled = replace(store.load(TENANT, "a1").steps[0], status=StepStatus.APPROVED, settled_at=AT, callback="pending")
    store.commit(approval, AT, steps=[StepWrite(settled, expect=frozenset({StepStatus.OPEN}))])
    assert store.due_stages("2027") == []
    assert [(i["approval_id"], i["stage"]) for i in store.pending_callbacks(AT)] == [("a1", 0)]
    store.mark_callback(TENANT, "a1", "manager", 0, "sent")
    assert store.pending_callbacks("2027") == [] and store.load(TENANT, "a1").steps[0].callback == "sent"
    told = Publication("Decision Recorded", {"tenant": TENANT, "approval_id": "a1", "event_id": "e1"})
    store.commit(store.load(TENANT, "a1"), AT, outbox=[told])  # written with the change
    (waiting,) = store.pending_outbox(AT + "~")
    assert waiting["detail_type"] == "Decision Recorded" and json.loads(waiting["detail"])["event_id"] == "e1"
    store.delete_published(told)
    assert store.pending_outbox("2027") == []


def test_directory_is_validated_and_kept_per_tenant() -> None:
    store = MemoryStore()
    with pytest.raises(NotFound):
        store.get_directory(TENANT)
    with pytest.raises(InvalidInput):
        store.put_directory("globex", DIRECTORY)  # the document is acme's
    with pytest.raises(InvalidInput):
        store.put_directory(TENANT, {**DIRECTORY, "users": [{"id": "ann", "manager": "nobody"}]})
    store.put_directory(TENANT, DIRECTORY)
    directory = store.get_directory(TENANT)
    assert directory.managers("ann")[:2] == ["bob", "carol"]


def test_archive_side_items_expire_and_pointer() -> None:
    store = MemoryStore()
    approval = created(store)
    store.commit(approval, AT, steps=[StepWrite(open_stage(), may_create=True)])
    items = store.approval_items(TENANT, "a1")
    assert [i["kind"] for i in items] == ["approval", "event", "step"]  # key order: A, E#..., S#...
    assert items[0] == {k: v for k, v in approval_item(approval).items() if v is not None}
    # The stage as written (one version on), its decision items joined in (none yet).
    assert items[2] == {**{k: v for k, v in step_item(approval, replace(open_stage(), ver=1)).items() if v is not None},
                        "decisions": []}
    with pytest.raises(Conflict):
        store.expire(TENANT, "a1", 1, "k", 100)  # archived at a revision since left behind
    assert store.archive_pointer(TENANT, "a1") is None
    store.expire(TENANT, "a1", approval.revision, "k", 100)
    assert store.archive_pointer(TENANT, "a1") == "k"
    assert all(i["expires_at"] == 100 for i in store.approval_items(TENANT, "a1"))
    assert store.run_ttl(T0) == 4  # every item but the pointer: the open stage's inbox entry too
    with pytest.raises(NotFound):
        store.load(TENANT, "a1")
    assert store.archive_pointer(TENANT, "a1") == "k"  # the pointer has no TTL


def test_a_change_that_lands_between_load_and_commit_makes_the_commit_stale() -> None:
    store = MemoryStore()
    approval = created(store)
    store.before_commit.append(lambda: store.commit(store.load(TENANT, "a1"), AT, events=[NewEvent("X", "bob", {})]))
    with pytest.raises(StaleRevision):
        store.commit(approval, AT, events=[NewEvent("Y", "ann", {})])
    assert [e["type"] for e in store.history(TENANT, "a1")] == ["Approval Started", "X"]


def test_workflows_complete_a_waiting_token_once_and_start_a_name_once() -> None:
    sfn = MemoryWorkflows()
    with pytest.raises(TokenGone):
        sfn.succeed("never-issued", {})
    sfn.wait_on("t1")
    sfn.succeed("t1", {"ok": True})
    with pytest.raises(TokenGone):
        sfn.fail("t1", "Approval.Rejected")
    sfn.wait_on("t2")
    sfn.time_out("t2")
    with pytest.raises(TokenGone):
        sfn.succeed("t2", {})
    assert [c.token for c in sfn.completions] == ["t1"]
    first = sfn.start("m-v1", "a1", {"x": 1})
    assert sfn.start("m-v1", "a1", {"x": 2}) == first
    assert [e.payload for e in sfn.executions.values()] == [{"x": 1}]


def test_bus_refuses_when_told_and_the_clock_moves_when_told() -> None:
    rt = memory_runtime(now="2026-12-01T09:00:00Z")
    assert rt.now() == T0 and rt.clock.advance(seconds=90) == rt.now()
    rt.events.put("Approval Started", {"tenant": TENANT})
    rt.events.refusing = True
    with pytest.raises(RuntimeError):
        rt.events.put("Approval Started", {"tenant": TENANT})
    assert rt.events.types == ["Approval Started"]
