"""machine.finish: the outcome, every step's status, `Approval Completed`; then archive.write (the
document in MemoryArchive, its hash chain intact, the items' TTL) and archive.read once they expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals.adapters.store_items import ARCHIVE_POINTER_SK, approval_pk
from approvals.archive.write import archive_approval
from approvals.commands.decide import decide
from approvals.domain import ApprovalStatus, NotFound, StepStatus
from approvals.domain.archive_document import archive_key, decode, verify_chain
from approvals.domain.audit import timeline
from approvals.queries.approval import get_approval
from approvals.queries.history import history
from approvals.queries.inbox import inbox
from tests.fakes import MemoryRuntime

from .machine import TENANT, Run, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}
RETAIN_HOT = timedelta(days=30)  # leave-request's retain_hot (the manifest's retain_hot_seconds)


def approved_leave(rt: MemoryRuntime) -> Run:
    """A leave of one day: the manager (bob) and HR (ivy) approve; the director step does not run."""
    run = begin(rt, "leave-request", "ann", LEAVE, approval_id="leave-1")
    token = run.open("Manager approval")
    rt.clock.advance(hours=2)
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    assert run.resume("Manager approval", token) == "Director needed?"  # days <= 3: on to HR
    token = run.open("Hr approval")
    rt.clock.advance(hours=1)
    decide(TENANT, run.id, "hr", "ivy", "approve", rt=rt)
    assert run.resume("Hr approval", token) == "Approved"
    return run


def test_finish_records_the_outcome_and_every_steps_status(rt: MemoryRuntime) -> None:
    run = approved_leave(rt)

    result = run.finish("approved")

    key = archive_key(TENANT, "leave-request", "2026-12-01T12:00:00.000Z", run.id)
    assert result == {"approval_id": run.id, "outcome": "approved", "archive_key": key}
    approval = rt.store.load(TENANT, run.id)
    assert (approval.status, approval.completed_at) == (ApprovalStatus.APPROVED, "2026-12-01T12:00:00.000Z")
    assert {s.step: s.status for s in approval.steps} == {
        "manager": StepStatus.APPROVED, "director": StepStatus.SKIPPED, "hr": StepStatus.APPROVED}
    (completed,) = rt.events.of("Approval Completed")
    assert (completed["outcome"], completed["cc"], completed["requester"]) == ("approved", ["kate"], "ann")
    last = rt.store.history(TENANT, run.id)[-1]
    assert (last["type"], last["actor"], last["data"]["outcome"], last["data"]["cc"]) == (
        "Approval Completed", "system", "approved", ["kate"])


def test_the_archive_is_written_chain_intact_and_the_items_get_their_ttl(rt: MemoryRuntime) -> None:
    run = approved_leave(rt)
    table_history = rt.store.history(TENANT, run.id)

    key = run.finish("approved")["archive_key"]

    assert list(rt.archive.blobs) == [key]
    document = decode(rt.archive.blobs[key])
    head = rt.store.load(TENANT, run.id)
    assert document["approval"]["status"] == "approved" and document["approval"]["revision"] == head.revision
    assert verify_chain(document["events"], head=document["approval"]["last_hash"]) is None
    # History is the chain with the decisions among it (+ Step Settled, Completed since).
    assert timeline(document["events"], document["steps"]) == rt.store.history(TENANT, run.id) != table_history
    assert [s["step"] for s in document["steps"]] == ["director", "hr", "manager"]
    expires = int((rt.now() + RETAIN_HOT).timestamp())
    items = rt.store.approval_items(TENANT, run.id)
    assert {i["expires_at"] for i in items} == {expires}
    assert items[0]["archive_key"] == key and rt.store.archive_pointer(TENANT, run.id) == key
    # Nothing of it waits in anyone's inbox; every item but the pointer expires, decisions too.
    stored = rt.store.items_of(TENANT, run.id)
    assert [i for i in stored if i["kind"] not in ("approval", "step", "event", "decision", "archive")] == []
    assert {i["kind"] for i in stored if i.get("expires_at") != expires} == {"archive"}
    assert {i["sk"] for i in stored if i["kind"] == "decision"} == {"S#manager#0#D#bob", "S#hr#0#D#ivy"}


def test_a_repeated_finish_changes_nothing_and_archives_to_the_same_key(rt: MemoryRuntime) -> None:
    run = approved_leave(rt)
    first = run.finish("approved")
    revision, blobs, events = rt.store.load(TENANT, run.id).revision, dict(rt.archive.blobs), list(rt.events.events)
    rt.clock.advance(minutes=1)

    assert run.finish("approved") == first  # a Retry of FinishFunction
    assert rt.store.load(TENANT, run.id).revision == revision
    assert rt.archive.blobs == blobs and rt.events.events == events


def test_an_archive_cut_off_after_the_head_item_is_finished_by_the_next_run(rt: MemoryRuntime) -> None:
    """The archiver died after the head got its archive_key: no pointer, no TTL on the other items.
    Archiving again writes both, with the key and the TTL already on the head."""
    run = approved_leave(rt)
    key = run.finish("approved")["archive_key"]
    pk = approval_pk(TENANT, run.id)
    del rt.store.items[(pk, ARCHIVE_POINTER_SK)]
    expires_at = rt.store.items[(pk, "A")]["expires_at"]
    for (p, sk), item in rt.store.items.items():
        if p == pk and sk != "A":
            item.pop("expires_at", None)
    rt.clock.advance(days=1)

    assert archive_approval(TENANT, run.id, rt=rt) == key
    assert rt.store.archive_pointer(TENANT, run.id) == key
    items = [i for (p, _), i in rt.store.items.items() if p == pk]
    assert len(items) > 5
    assert all(i.get("expires_at") == expires_at for i in items if i["sk"] != ARCHIVE_POINTER_SK)


def test_once_the_items_expired_the_approval_and_its_history_come_from_the_archive(rt: MemoryRuntime) -> None:
    run = approved_leave(rt)
    run.finish("approved")
    before = history(TENANT, run.id, "ann", rt=rt)
    approval_before = get_approval(TENANT, run.id, "bob", rt=rt).to_api()
    rt.clock.advance(RETAIN_HOT)

    assert rt.store.run_ttl(rt.now()) == len(before["events"]) + 4  # the approval, 3 stages, the events
    with pytest.raises(NotFound):
        rt.store.load(TENANT, run.id)

    after = history(TENANT, run.id, "ann", rt=rt)
    assert after == {"source": "archive", "events": before["events"]}
    assert verify_chain(after["events"]) is None
    assert get_approval(TENANT, run.id, "bob", rt=rt).to_api() == approval_before
    with pytest.raises(NotFound):  # the archive keeps who may see it
        history(TENANT, run.id, "erin", rt=rt)
    assert [i["sk"] for i in rt.store.items_of(TENANT, run.id)] == ["ARCHIVE"]


def test_a_rejection_is_finished_with_the_later_steps_skipped(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", {"days": 5, "start_date": "2026-12-10"})
    token = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)
    assert run.resume("Manager approval", token) == "Rejected"
    assert run.state["error"] == {"Error": "Approval.Rejected", "Cause": "manager rejected"}

    assert run.finish("rejected")["outcome"] == "rejected"

    approval = rt.store.load(TENANT, run.id)
    assert {s.step: s.status for s in approval.steps} == {
        "manager": StepStatus.REJECTED, "director": StepStatus.SKIPPED, "hr": StepStatus.SKIPPED}
    assert rt.events.of("Approval Completed")[0]["outcome"] == "rejected"


def test_finish_cancels_a_stage_left_open_in_another_branch(rt: MemoryRuntime) -> None:
    data = {"amount": 500, "vendor": "Initech", "cost_center": "cc-1", "new_vendor": True}
    run = begin(rt, "purchase-order", "ann", data)
    legal = run.open("Legal approval")
    security = run.open("Security approval")
    decide(TENANT, run.id, "legal", "gina", "reject", rt=rt)
    assert run.resume("Legal approval", legal) == "Rejected"  # the Parallel's Catch: the other branch stops

    run.finish("rejected")

    statuses = {s.step: s.status for s in rt.store.load(TENANT, run.id).steps}
    assert statuses["legal"] is StepStatus.REJECTED and statuses["security"] is StepStatus.CANCELLED
    assert statuses["create-po"] is StepStatus.SKIPPED
    assert inbox(TENANT, "jack", rt=rt) == [] and inbox(TENANT, "kate", rt=rt) == []
    assert rt.sfn.completions_of(security) == []  # Step Functions ended that Task itself
    (completed,) = rt.events.of("Approval Completed")
    assert completed["cc"] == ["kate", "carol"]  # procurement-observer, and on_rejected: procurement-admin


def test_the_archive_item_shapes_are_the_tables(rt: MemoryRuntime) -> None:
    run = approved_leave(rt)
    key = run.finish("approved")["archive_key"]
    document = decode(rt.archive.blobs[key])
    pk = approval_pk(TENANT, run.id)
    stored = {i["sk"]: i for i in rt.store.items_of(TENANT, run.id)}
    assert document["approval"] == {k: v for k, v in stored["A"].items() if k not in ("expires_at", "archive_key")}
    for step in document["steps"]:
        assert step["pk"] == pk
        assert {k: v for k, v in step.items() if k != "decisions"} == {
            k: v for k, v in stored[step["sk"]].items() if k != "expires_at"}
        assert step["decisions"] == [{k: d.get(k) for k in ("user", "acting_for", "decision", "comment", "at")}
                                     for d in stored.values() if d["kind"] == "decision" and d["step"] == step["step"]]
