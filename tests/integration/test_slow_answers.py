"""Slow answers (local/faults.py, `slow_answer`): AWS applied the call, its answer came after the
client's read timeout, botocore sent the same request again and the repeat met the world after the
first. One test per place where a request made twice could hurt: a start, a decision (one that
settles its stage, and a vote), a step opening, Finish, a withdrawal, a start with an
Idempotency-Key. Each scripts the slow answers on the exact calls of that change (`plan.refuse(
SLOW_ANSWER, operation=..., match=..., function=...)`) and checks that the change happened once,
was answered as if nothing went wrong, and that its business events, repeated, are the same event.

What the repeats meet is what AWS answers (docs/local-aws.md, "Fault injection"): a
TransactWriteItems repeated with botocore's ClientRequestToken succeeds and applies nothing, a
completion of a token already completed gets TaskTimedOut, a StartExecution of the same name and
input gets the running execution, a conditional PutItem fails its condition, a PutEvents puts its
entries again. The boundaries are listed in docs/architecture.md (14).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from approvals.commands.start import start_approval
from approvals.domain import StepStatus
from bench.fault_runs import outbox_left
from local import faults
from local.client import Client
from local.faults import SLOW_ANSWER, FaultPlan
from local.stack import MotoStack
from tests.integration.fault_checks import LEAVE, archive_key, audit_types, completed_once, finish_run, published

pytestmark = pytest.mark.usefixtures("nothing_left_scripted")

CONTRACT = {"counterparty": "Globex", "value": 25000, "region": "US"}


@pytest.fixture(scope="module")
def stack(faulty_stack: MotoStack) -> MotoStack:
    return faulty_stack


def slow(plan: FaultPlan, operation: str, *match: str, function: str = "") -> None:
    """The next call of `operation` whose parameters contain `match` is applied and answered too late."""
    plan.refuse(SLOW_ANSWER, operation=operation, match=match, function=function)


def slowed(plan: FaultPlan, before: dict[str, int]) -> dict[str, int]:
    """The slow answers injected since `before` (plan.where), by operation."""
    now = {k.split(" ", 1)[1]: n for k, n in plan.where.items() if k.startswith(f"{SLOW_ANSWER} ")}
    return {op: n - before.get(op, 0) for op, n in now.items() if n - before.get(op, 0)}


def manager_open(stack: MotoStack) -> tuple[str, str]:
    """A leave request of ann's, its manager step open: the approval id and the step's token."""
    approval_id = stack.start_approval("leave-request", "ann", LEAVE)
    token = stack.wait_for_open_step(approval_id, "manager").task_token
    assert token
    return approval_id, token


def where(plan: FaultPlan) -> dict[str, int]:
    return slowed(plan, {})


def once_twice(copies: list[dict[str, Any]]) -> None:
    """A business event put twice (the SDK's repeat of PutEvents): the same event, one event_id."""
    assert len(copies) == 2 and copies[0] == copies[1] and copies[0]["event_id"], copies


def executions_named(stack: MotoStack, approval_id: str) -> list[str]:
    arn = stack.execution_arn(approval_id)
    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    with faults.observing():
        listed = stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    return [e["executionArn"] for e in listed if e["name"] == approval_id]


def test_a_start_whose_answers_come_too_late(stack: MotoStack, plan: FaultPlan) -> None:
    """start: the create's transaction, `Approval Started`'s PutEvents, StartExecution and the
    start's mark each applied and answered too late. The repeated transaction is answered success
    (its ClientRequestToken), not ApprovalExists; the repeated StartExecution finds the execution it
    started; the event is on the bus twice with one event_id. One approval, one execution, one
    `Approval Started` in the audit trail."""
    approval_id = f"slow-start-{uuid.uuid4().hex[:8]}"
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Approval Started")
    slow(plan, "events.PutEvents", approval_id, "Approval Started")
    slow(plan, "stepfunctions.StartExecution", approval_id)
    slow(plan, "dynamodb.UpdateItem", approval_id, "start_pending")
    assert start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id,
                          rt=stack.rt) == approval_id
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1, "events.PutEvents": 1,
                                    "stepfunctions.StartExecution": 1, "dynamodb.UpdateItem": 1}
    approval = stack.approval(approval_id)
    assert approval.revision == 1 and not approval.start_pending
    assert len(executions_named(stack, approval_id)) == 1 and stack.describe(approval_id)["status"] == "RUNNING"
    assert audit_types(stack, approval_id) == ["Approval Started"]
    once_twice(published(stack, approval_id, "Approval Started"))
    assert outbox_left(stack, approval_id) == []
    finish_run(stack, approval_id, {"manager": "bob", "hr": "ivy"}, "approved")
    assert audit_types(stack, approval_id).count("Approval Started") == 1
    completed_once(stack, approval_id, "approved")


def test_a_decision_whose_answers_come_too_late(stack: MotoStack, plan: FaultPlan, api: Client) -> None:
    """decide (through the API): the decision's transaction, its event, its outbox delete, the
    token's completion and the `callback` mark each applied and answered too late. The answer is
    200 with the stage approved; the decision is recorded once, the stage settled once, its Task
    told once (the SDK's repeat of SendTaskSuccess gets TaskTimedOut, as on AWS: marked `gone`)."""
    approval_id, token = manager_open(stack)
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Decision Recorded", function="ApiFunction")
    slow(plan, "events.PutEvents", approval_id, "Decision Recorded", function="ApiFunction")
    slow(plan, "dynamodb.DeleteItem", "#OUTBOX", function="ApiFunction")
    slow(plan, "stepfunctions.SendTaskSuccess", token, function="ApiFunction")
    slow(plan, "dynamodb.UpdateItem", approval_id, "callback", function="ApiFunction")
    status, body, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                  {"step": "manager", "decision": "approve"}, token=api.token("bob"))
    assert status == 200, body
    assert next(s for s in body["steps"] if s["step"] == "manager")["status"] == "approved"
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1, "events.PutEvents": 1,
                                    "dynamodb.DeleteItem": 1, "stepfunctions.SendTaskSuccess": 1,
                                    "dynamodb.UpdateItem": 1}
    stack.wait_for_open_step(approval_id, "hr")
    stage = stack.approval(approval_id).current("manager")
    assert stage is not None and stage.status is StepStatus.APPROVED
    assert [d.user for d in stage.decisions] == ["bob"] and stage.callback == "gone"
    audit = stack.audit(approval_id)
    assert [e["type"] for e in audit].count("Decision Recorded") == 1
    assert [e["data"]["step"] for e in audit if e["type"] == "Step Settled"] == ["manager"]
    assert len([e for e in stack.history(approval_id) if e["type"] == "TaskSucceeded"]) == 1
    once_twice(published(stack, approval_id, "Decision Recorded"))
    assert outbox_left(stack, approval_id) == []
    finish_run(stack, approval_id, {"hr": "ivy"}, "approved")
    assert stack.human_step_entries(approval_id) == ["manager", "hr"]
    completed_once(stack, approval_id, "approved")


def test_a_vote_whose_answer_comes_too_late(stack: MotoStack, plan: FaultPlan, api: Client) -> None:
    """decide, a vote (a decision that does not settle its stage: the committee's 60%): its own
    transaction on the stage's count and the decision item, applied and answered too late. The
    answer is 200, not AlreadyDecided; the count went up once; the stage settles at the third approval."""
    approval_id = stack.start_approval("contract-review", "ann", CONTRACT)
    for user in ("gina", "hank"):
        stack.wait_for_open_step(approval_id, "legal")
        stack.decide(approval_id, "legal", user)
    opened = stack.wait_for_open_step(approval_id, "committee")
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Decision Recorded", "ivy", function="ApiFunction")
    status, body, _ = api.request("POST", f"/v1/approvals/{approval_id}/decisions",
                                  {"step": "committee", "decision": "approve"}, token=api.token("ivy"))
    assert status == 200, body
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1}
    stage = stack.approval(approval_id).current("committee")
    assert stage is not None and stage.status is StepStatus.OPEN and stage.stage == opened.stage
    assert [d.user for d in stage.decisions] == ["ivy"] and stage.ver == opened.ver + 1  # counted once
    with faults.observing():
        item = stack.store.client.get_item(TableName=stack.store.table_name, Key={
            "pk": {"S": f"T#acme#A#{approval_id}"}, "sk": {"S": f"S#committee#{stage.stage}"}})["Item"]
    assert item["n_approve"] == {"N": "1"}
    status, output, _ = stack.drive(approval_id, {"committee": ["jack", "kate"]}, timeout=40)
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved", (status, output)
    committee = stack.approval(approval_id).current("committee")
    assert committee is not None and sorted(d.user for d in committee.decisions) == ["ivy", "jack", "kate"]
    assert audit_types(stack, approval_id).count("Decision Recorded") == 5  # gina, hank, ivy, jack, kate
    completed_once(stack, approval_id, "approved")


def test_a_step_opening_answered_too_late(stack: MotoStack, plan: FaultPlan) -> None:
    """OpenStepFunction: the stage's transaction applied and answered too late. The repeat is
    answered success; the Task is not failed and retried; one manager stage, opened once."""
    approval_id = f"slow-open-{uuid.uuid4().hex[:8]}"
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Step Opened", function="OpenStepFunction")
    start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id, rt=stack.rt)
    stack.wait_for_open_step(approval_id, "manager")
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1}
    assert [s.status for s in stack.approval(approval_id).steps if s.step == "manager"] == [StepStatus.OPEN]
    assert audit_types(stack, approval_id).count("Step Opened") == 1
    assert [e for e in stack.history(approval_id) if e["type"] == "TaskFailed"] == []
    finish_run(stack, approval_id, {"manager": "bob", "hr": "ivy"}, "approved")
    assert audit_types(stack, approval_id).count("Step Opened") == 2  # manager, hr
    completed_once(stack, approval_id, "approved")


def test_finish_whose_answers_come_too_late(stack: MotoStack, plan: FaultPlan) -> None:
    """Finish: the outcome's transaction, `Approval Completed`'s PutEvents, the archive key on the
    approval item and the archive pointer each applied and answered too late. One outcome, one
    `Approval Completed` (on the bus twice, one event_id), archived once; Finish's Task not retried."""
    approval_id = f"slow-finish-{uuid.uuid4().hex[:8]}"
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Approval Completed", function="FinishFunction")
    slow(plan, "events.PutEvents", approval_id, "Approval Completed", function="FinishFunction")
    slow(plan, "dynamodb.UpdateItem", approval_id, "archive_key", function="FinishFunction")
    slow(plan, "dynamodb.PutItem", approval_id, "ARCHIVE", function="FinishFunction")
    start_approval("acme", "leave-request", None, "ann", LEAVE, approval_id=approval_id, rt=stack.rt)
    finish_run(stack, approval_id, {"manager": "bob", "hr": "ivy"}, "approved")
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1, "events.PutEvents": 1,
                                    "dynamodb.UpdateItem": 1, "dynamodb.PutItem": 1}
    assert [e for e in stack.history(approval_id) if e["type"] == "TaskFailed"] == []
    once_twice(published(stack, approval_id, "Approval Completed"))
    completed_once(stack, approval_id, "approved")
    key = archive_key(stack, approval_id)
    assert key
    with faults.observing():
        items = stack.store.approval_items("acme", approval_id)
        assert stack.deployment is not None
        versions = stack.client("s3").list_object_versions(Bucket=stack.deployment.archive_bucket, Prefix=key)
    assert len(versions.get("Versions", [])) == 1  # written once
    head = next(i for i in items if i["sk"] == "A")
    assert head["archive_key"] == key and all(i.get("expires_at") for i in items)


def test_a_withdrawal_whose_answers_come_too_late(stack: MotoStack, plan: FaultPlan, api: Client) -> None:
    """withdraw (through the API): its transaction, `Approval Withdrawn`'s PutEvents and the open
    stage's SendTaskFailure each applied and answered too late. The answer is 200; withdrawn once,
    the stage cancelled once, its Task failed once; the run ends `withdrawn`."""
    approval_id, token = manager_open(stack)
    before = where(plan)
    slow(plan, "dynamodb.TransactWriteItems", approval_id, "Approval Withdrawn", function="ApiFunction")
    slow(plan, "events.PutEvents", approval_id, "Approval Withdrawn", function="ApiFunction")
    slow(plan, "stepfunctions.SendTaskFailure", token, function="ApiFunction")
    status, body, _ = api.request("POST", f"/v1/approvals/{approval_id}/withdraw", {}, token=api.token("ann"))
    assert status == 200, body
    assert body["status"] == "withdrawn"
    assert slowed(plan, before) == {"dynamodb.TransactWriteItems": 1, "events.PutEvents": 1,
                                    "stepfunctions.SendTaskFailure": 1}
    status, output = stack.wait_for_end(approval_id)
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "withdrawn", (status, output)
    manager = [s for s in stack.approval(approval_id).steps if s.step == "manager"]
    assert [(s.status, s.callback) for s in manager] == [(StepStatus.CANCELLED, "gone")]
    assert audit_types(stack, approval_id).count("Approval Withdrawn") == 1
    failed = [e["taskFailedEventDetails"]["error"] for e in stack.history(approval_id) if e["type"] == "TaskFailed"]
    assert failed == ["Approval.Withdrawn"]
    once_twice(published(stack, approval_id, "Approval Withdrawn"))
    completed_once(stack, approval_id, "withdrawn")


def test_a_keyed_start_whose_idempotency_record_is_answered_too_late(stack: MotoStack, plan: FaultPlan,
                                                                     api: Client) -> None:
    """POST /flows/{flow}/approvals with an Idempotency-Key: powertools' INPROGRESS record (a
    PutItem written only if absent or expired) applied and answered too late. The SDK's repeat
    meets the record the first attempt wrote and fails its condition; that is the request's own
    write, so the start goes on: 201, one approval, and the same key again returns it."""
    key = f"slow-{uuid.uuid4().hex}"
    before = where(plan)
    slow(plan, "dynamodb.PutItem", "#IDEMPOTENCY", function="ApiFunction")
    headers = {"Idempotency-Key": key}
    status, body, _ = api.request("POST", "/v1/flows/leave-request/approvals", {"input": LEAVE},
                                  token=api.token("ann"), headers=headers)
    assert slowed(plan, before) == {"dynamodb.PutItem": 1}
    assert status == 201, body
    approval_id = body["id"]
    status, again, _ = api.request("POST", "/v1/flows/leave-request/approvals", {"input": LEAVE},
                                   token=api.token("ann"), headers=headers)
    assert status == 201 and again["id"] == approval_id, again
    finish_run(stack, approval_id, {"manager": "bob", "hr": "ivy"}, "approved")
    assert audit_types(stack, approval_id).count("Approval Started") == 1
    completed_once(stack, approval_id, "approved")
