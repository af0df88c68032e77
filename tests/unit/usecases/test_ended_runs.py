"""The sweep's backstop for ended executions (sweeps/ended_runs.py): a status change event that the
rule and ExecutionEndedFunction kept failing on waits in the retry queue, and the sweep settles its
approval from there, once, whatever the queue holds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from approvals.contract.execution_status import DETAIL_TYPE
from approvals.domain import ApprovalStatus, StepStatus
from approvals.sweeps.ended_runs import PER_SWEEP, sweep_ended_runs
from approvals.unit_of_work.ports import Message
from tests.fakes import MemoryQueue, MemoryRuntime

from .machine import TENANT, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}
ARN = "arn:aws:states:us-east-1:123456789012"


def status_change(approval_id: str, status: str = "FAILED", execution_input: Mapping[str, Any] | None = None,
                  error: str | None = "States.DataLimitExceeded") -> str:
    """The event as the rule's dead-letter queue (and Lambda's) holds it: the event itself."""
    given = {"approval_id": approval_id, "tenant": TENANT, "flow": "leave-request", "flow_version": 1,
             "requester": "ann", "input": LEAVE} if execution_input is None else execution_input
    return json.dumps({
        "version": "0", "id": f"e-{approval_id}", "detail-type": DETAIL_TYPE,
        "source": "aws.states", "account": "123456789012", "time": "2026-12-01T09:00:00Z", "region": "us-east-1",
        "resources": [f"{ARN}:execution:leave-request-v1:{approval_id}"],
        "detail": {"executionArn": f"{ARN}:execution:leave-request-v1:{approval_id}",
                   "stateMachineArn": f"{ARN}:stateMachine:leave-request-v1", "name": approval_id,
                   "status": status, "startDate": 1, "stopDate": 2, "input": json.dumps(given),
                   "error": error, "cause": "the state was over 256 KiB"}})


def test_an_ended_run_left_in_the_queue_is_settled_archived_and_deleted(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    queue = MemoryQueue()
    queue.send(status_change(run.id))
    queue.send(status_change(run.id))  # EventBridge's and Lambda's dead letters of one event

    assert sweep_ended_runs(queue, rt=rt) == [{"approval_id": run.id, "settled": True},
                                              {"approval_id": run.id, "settled": False}]
    approval = rt.store.load(TENANT, run.id)
    assert approval.status is ApprovalStatus.FAILED and approval.completed_at
    assert [s.status for s in approval.steps] == [StepStatus.CANCELLED]
    (completed,) = rt.events.of("Approval Completed")
    assert "States.DataLimitExceeded" in completed["error"]
    assert len(rt.archive.blobs) == 1 and queue.messages == {}
    assert sweep_ended_runs(queue, rt=rt) == []


def test_what_is_not_an_approvals_ended_run_is_dropped_and_changes_nothing(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    queue = MemoryQueue()
    for body in ("not json", json.dumps([1]), json.dumps({"detail": {"status": "FAILED"}}),
                 status_change("x", execution_input={"someone": "else"})):
        queue.send(body)

    assert sweep_ended_runs(queue, rt=rt) == [{"approval_id": None, "settled": False}]
    assert queue.messages == {}
    assert rt.store.load(TENANT, run.id).status is ApprovalStatus.RUNNING and rt.events.of("Approval Completed") == []


def test_a_message_that_cannot_be_settled_now_stays_for_the_next_sweep(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    queue = MemoryQueue()
    queue.send(status_change(run.id))
    healthy = rt.store.load

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ProvisionedThroughputExceededException")

    rt.store.load = throttled  # type: ignore[method-assign]
    assert sweep_ended_runs(queue, rt=rt) == []
    assert len(queue.messages) == 1
    rt.store.load = healthy  # type: ignore[method-assign]
    assert sweep_ended_runs(queue, rt=rt) == [{"approval_id": run.id, "settled": True}]
    assert queue.messages == {}


def test_one_sweep_takes_a_bounded_batch(rt: MemoryRuntime) -> None:
    asked: list[int] = []

    class Counting(MemoryQueue):
        def receive(self, limit: int) -> list[Message]:
            asked.append(limit)
            return super().receive(limit)

    queue = Counting()
    for n in range(PER_SWEEP + 5):
        queue.send(status_change(f"gone-{n}"))  # approvals no longer in the table: nothing to settle
    assert len(sweep_ended_runs(queue, rt=rt)) == PER_SWEEP and asked == [PER_SWEEP]
    assert len(queue.messages) == 5
