"""Four failures local/faults.py found, each injected and recovered from:

1. OpenStepFunction dying right after its commit: Step Functions reports a crashed function (also a
   timeout or out of memory) as `Lambda.Unknown`. Every runtime Task retries it (the handlers do
   nothing twice: the retry finds the stage it opened), so the run goes on.
2. Archiving cut off between its writes (the pointer's PutItem throttled past the SDK's retries,
   after the approval item got its `archive_key`): Finish's Retry archives again, and
   `archive_approval` finishes the pointer and every item's TTL instead of returning early.
3. Two Lambda 429s in a row on an action whose flow `retry` allows 2 attempts: Lambda's service
   errors have a retrier of their own, before the flow's, so they do not use up the action's attempts.
4. ExecutionEndedFunction dying after its commit: the event waits in the rule's retry queue and the
   sweep archives the approval from there.
"""

from __future__ import annotations

import time

import pytest

from approvals.commands.start import start_approval
from approvals.domain import ApprovalStatus, StepStatus
from local import faults
from local.faults import FaultPlan
from local.stack import MotoStack
from tests.integration.fault_checks import LEAVE

pytestmark = pytest.mark.usefixtures("nothing_left_scripted")


@pytest.fixture(scope="module")
def stack(faulty_stack: MotoStack) -> MotoStack:
    return faulty_stack


def test_death_after_the_open_step_commit_does_not_fail_the_run(stack: MotoStack, plan: FaultPlan) -> None:
    approval_id = "recover-open-step-1"
    plan.crash_after("dynamodb.TransactWriteItems", match=(approval_id, "Step Opened"), function="OpenStepFunction")
    start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id, rt=stack.rt)
    deadline = time.monotonic() + 8  # the Task's retries (1 s, 2 s, 4 s) have had their time
    while time.monotonic() < deadline and stack.describe(approval_id)["status"] == "RUNNING":
        time.sleep(0.2)
    assert plan.pending() == 0  # it died where asked
    failed = [e["taskFailedEventDetails"]["error"] for e in stack.history(approval_id) if e["type"] == "TaskFailed"]
    assert failed == ["Lambda.Unknown"]
    # the Task's retry (or the next invocation) finds the stage, the run goes on
    # with one open manager stage, and ends as its people decide.
    assert stack.describe(approval_id)["status"] == "RUNNING", stack.approval(approval_id).status
    opened = [s for s in stack.approval(approval_id).steps if s.step == "manager"]
    assert [s.status for s in opened] == [StepStatus.OPEN]
    status, output, _ = stack.drive(approval_id, {"manager": "bob", "hr": "ivy"})
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved"


def test_archiving_resumes_after_a_failure_between_its_writes(stack: MotoStack, plan: FaultPlan) -> None:
    approval_id = "recover-archive-1"
    # The pointer's PutItem throttled on every attempt of the SDK (standard mode, 4 attempts).
    plan.refuse(faults.DYNAMODB_THROTTLE, operation="dynamodb.PutItem", match=(approval_id, '"ARCHIVE"'),
                function="FinishFunction", times=4)
    start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id, rt=stack.rt)
    status, output, _ = stack.drive(approval_id, {"manager": "bob", "hr": "ivy"}, timeout=40)
    assert plan.pending() == 0 and status == "SUCCEEDED", (status, output)
    with faults.observing():
        items = stack.store.approval_items("acme", approval_id)
        pointer = stack.store.archive_pointer("acme", approval_id)
    head = next(i for i in items if i["sk"] == "A")
    assert head.get("archive_key")  # the first write of expire() happened
    # Finish's Retry finishes archiving: the pointer, and every item's TTL.
    assert pointer == head["archive_key"]
    assert all(i.get("expires_at") for i in items), [i["sk"] for i in items if not i.get("expires_at")]


def test_an_action_retries_lambdas_service_errors_beyond_the_flows_retry(stack: MotoStack,
                                                                          plan: FaultPlan) -> None:
    approval_id = "recover-action-1"
    plan.refuse(faults.LAMBDA_SERVICE_ERROR, match="NotifyVendor", times=2)
    start_approval("acme", "purchase-order", None, "ann", {"vendor": "Acme Supplies", "cost_center": "CC-100",
                                                           "amount": 500}, approval_id=approval_id, rt=stack.rt)
    status, output, _ = stack.drive(approval_id, {"managers": ["bob", "carol"], "legal": "gina"}, timeout=60)
    assert plan.pending() == 0
    # Lambda's service errors are retried as on every other Task; the run is approved.
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved", (status, output)


def test_an_ended_run_its_function_failed_on_is_settled_by_the_sweep(stack: MotoStack, plan: FaultPlan) -> None:
    """ExecutionEndedFunction dies after its commit (before the archive): the delivery failed, so
    the event goes to the rule's retry queue (local/eventbridge.py does what EventBridge does after
    its retries), and SweepFunction finishes the approval from there: archived, the queue empty."""
    approval_id = "recover-ended-1"
    plan.crash_after("dynamodb.TransactWriteItems", match=(approval_id, "Approval Completed"),
                     function="ExecutionEndedFunction")
    start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id, rt=stack.rt)
    stack.wait_for_open_step(approval_id, "manager")
    stack.client("stepfunctions").stop_execution(executionArn=stack.execution_arn(approval_id), error="Operator.Stop")
    deadline = time.monotonic() + 15
    while stack.approval(approval_id).status is ApprovalStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    assert plan.pending() == 0 and stack.approval(approval_id).status is ApprovalStatus.FAILED
    with faults.observing():
        assert stack.store.archive_pointer("acme", approval_id) is None  # it died before archiving
        sqs = stack.client("sqs")
        url = stack.deployment.outputs["ExecutionEndedRetryQueueUrl"] if stack.deployment else ""
        waiting = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "1"

    swept = stack.invoke("SweepFunction", {})
    assert swept["ended"] == [{"approval_id": approval_id, "settled": False}]  # settled already: archived now
    with faults.observing():
        assert stack.store.archive_pointer("acme", approval_id)
        assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert [e["type"] for e in stack.audit(approval_id)].count("Approval Completed") == 1
    assert stack.invoke("SweepFunction", {})["ended"] == []
