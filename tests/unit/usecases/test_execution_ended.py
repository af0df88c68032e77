"""Whatever ends an execution, its approval ends settled: an execution that failed, timed out or was
stopped settles it `failed` with the reason, once, and archives it (ExecutionEndedFunction)."""

from __future__ import annotations

import json

import pytest

from approvals.commands.decide import decide
from approvals.domain import ApprovalStatus, StepStatus
from approvals.domain.archive_document import decode, verify_chain
from approvals.handlers.execution_ended import ExecutionStatusChangeEvent
from approvals.machine.execution_ended import execution_ended, reason_of, run_of
from tests.fakes import MemoryRuntime

from .machine import TENANT, begin

LEAVE = {"days": 1, "start_date": "2026-12-10"}


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_an_execution_that_ended_without_finish_settles_its_approval_once(rt: MemoryRuntime, status: str) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    run.open("Manager approval")
    reason = reason_of(status, "States.DataLimitExceeded", "the state was over 256 KiB")
    assert execution_ended(TENANT, run.id, status, reason, rt=rt) == {"approval_id": run.id, "settled": True}
    approval = rt.store.load(TENANT, run.id)
    assert approval.status is ApprovalStatus.FAILED and approval.completed_at
    assert [s.status for s in approval.steps] == [StepStatus.CANCELLED]  # its token died with the run
    (completed,) = rt.events.of("Approval Completed")
    assert (completed["outcome"], completed["cc"], completed["requester"]) == ("failed", ["ann"], "ann")
    assert completed["error"].startswith(f"its execution ended {status.lower().replace('_', ' ')}")
    (blob,) = rt.archive.blobs.values()
    assert decode(blob)["approval"]["status"] == "failed" and verify_chain(decode(blob)["events"]) is None
    # Delivered again (EventBridge is at least once): nothing more.
    assert execution_ended(TENANT, run.id, status, reason, rt=rt)["settled"] is False
    assert len(rt.events.of("Approval Completed")) == 1 and len(rt.archive.blobs) == 1


def test_an_execution_that_finished_is_left_as_finish_settled_it(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "reject", rt=rt)
    run.resume("Manager approval", token)
    run.finish("rejected")
    assert execution_ended(TENANT, run.id, "SUCCEEDED", "", rt=rt)["settled"] is False
    assert execution_ended(TENANT, run.id, "FAILED", "late", rt=rt)["settled"] is False
    assert rt.store.load(TENANT, run.id).status is ApprovalStatus.REJECTED
    assert [e["outcome"] for e in rt.events.of("Approval Completed")] == ["rejected"]


def test_an_unknown_approval_is_nothing_to_settle(rt: MemoryRuntime) -> None:
    assert execution_ended(TENANT, "nope", "FAILED", "x", rt=rt) == {"approval_id": "nope", "settled": False}


def test_the_status_change_event_is_read_as_step_functions_sends_it() -> None:
    execution_input = {"approval_id": "a1", "tenant": "acme", "flow": "leave-request", "flow_version": 1,
                       "requester": "ann", "input": {}}
    event = ExecutionStatusChangeEvent.model_validate({
        "version": "0", "id": "e-1", "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
        "account": "123456789012", "time": "2026-12-01T09:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:states:us-east-1:123456789012:execution:leave-request-v1:a1"],
        "detail": {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:leave-request-v1:a1",
                   "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:leave-request-v1",
                   "name": "a1", "status": "ABORTED", "startDate": 1, "stopDate": 2,
                   "input": json.dumps(execution_input), "output": None, "error": None, "cause": None}})
    assert run_of(event.detail.input) == ("acme", "a1") and event.detail.status == "ABORTED"
    assert run_of("not json") is None and run_of(json.dumps({"tenant": "acme"})) is None
    assert reason_of("ABORTED", None, None) == "its execution ended aborted"
