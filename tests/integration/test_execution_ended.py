"""Whatever ends an execution, its approval ends settled: the local stack sends Step Functions'
status change events as AWS does, and ExecutionEndedFunction settles the approval of an execution
that ended other than through its Finish (here: an operator's StopExecution)."""

from __future__ import annotations

import time

from approvals.domain import ApprovalStatus, StepStatus
from local.stack import MotoStack


def test_a_stopped_execution_leaves_its_approval_failed_archived_and_told(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    stack.wait_for_open_step(approval_id, "manager")
    stack.client("stepfunctions").stop_execution(executionArn=stack.execution_arn(approval_id),
                                                 error="Operator.Stop", cause="stopped by an operator")
    deadline = time.monotonic() + 15
    while stack.approval(approval_id).status is ApprovalStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.FAILED and approval.completed_at
    assert [s.status for s in approval.steps] == [StepStatus.CANCELLED]
    # ABORTED, as on AWS; moto's worker may overwrite it later (FAILED, States.Runtime): local/execution_events.py
    assert stack.describe(approval_id)["status"] in ("ABORTED", "FAILED")
    completed = [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == "Approval Completed"]
    assert [(d["outcome"], d["cc"]) for d in completed] == [("failed", ["ann"])]
    assert completed[0]["error"].startswith("its execution ended aborted")
    assert [e["type"] for e in stack.audit(approval_id)][-1] == "Approval Completed"
    while stack.store.archive_pointer("acme", approval_id) is None and time.monotonic() < deadline:
        time.sleep(0.1)  # archived right after the outcome is saved
    assert stack.store.archive_pointer("acme", approval_id)
