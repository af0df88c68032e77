"""Whatever ends an execution, its approval ends settled: the local stack sends Step Functions'
status change events as AWS does, and ExecutionEndedFunction settles the approval of an execution
that ended other than through its Finish (here: an operator's StopExecution); a step whose retries
are spent is caught into the run's `failed` path and settled by Finish itself, once.

The module runs on `faulty_stack` (conftest.py), whose fault plan injects only what a test scripts."""

from __future__ import annotations

import time

import pytest

from approvals.domain import ApprovalStatus, StepStatus
from local import faults
from local.faults import FaultPlan
from local.stack import MotoStack

pytestmark = pytest.mark.usefixtures("nothing_left_scripted")


@pytest.fixture(scope="module")
def stack(faulty_stack: MotoStack) -> MotoStack:
    return faulty_stack


def _settled(stack: MotoStack, approval_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while stack.approval(approval_id).status is ApprovalStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_stopped_execution_leaves_its_approval_failed_archived_and_told(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    stack.wait_for_open_step(approval_id, "manager")
    stack.client("stepfunctions").stop_execution(executionArn=stack.execution_arn(approval_id),
                                                 error="Operator.Stop", cause="stopped by an operator")
    _settled(stack, approval_id)
    deadline = time.monotonic() + 15
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


def test_a_step_whose_retries_are_spent_ends_the_run_failed_through_finish(stack: MotoStack, plan: FaultPlan) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    stack.wait_for_open_step(approval_id, "manager")
    # hr's OpenStepFunction is refused on its first invoke and on each of the Task's 3 retries.
    plan.refuse(faults.LAMBDA_SERVICE_ERROR, match=(approval_id, "OpenStepFunction"), times=4)
    stack.decide(approval_id, "manager", "bob")
    _settled(stack, approval_id)
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.FAILED and approval.completed_at
    statuses = {s.step: s.status for s in approval.steps}
    assert statuses == {"manager": StepStatus.APPROVED, "director": StepStatus.SKIPPED, "hr": StepStatus.SKIPPED}
    # Finish recorded it (the `failed` path), the reason being the step's last error; the execution
    # failed as a failed run does, and the status change that followed did nothing twice.
    deadline = time.monotonic() + 15
    while stack.describe(approval_id)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)  # Finish settled the approval; its Task and the Fail state follow
    history = stack.client("stepfunctions").get_execution_history(executionArn=stack.execution_arn(approval_id))
    entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
    assert entered[-3:] == ["Failed", "Record failure", "Approval failed"]
    assert stack.describe(approval_id)["status"] == "FAILED"
    time.sleep(1)  # the status change event's delivery
    completed = [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == "Approval Completed"]
    assert [(d["outcome"], d["cc"]) for d in completed] == [("failed", ["kate", "ann"])]  # the flow's cc, and ann
    (told,) = [e["data"] for e in stack.audit(approval_id) if e["type"] == "Approval Completed"]
    assert str(told["error"]["Error"]).startswith("Lambda.")
    assert stack.store.archive_pointer("acme", approval_id)
