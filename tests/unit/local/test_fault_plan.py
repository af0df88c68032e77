"""local/faults.py: a fault plan decides from its seed alone, each kind fires at its rate, nothing
is injected unless asked for; and the hooks inject into moto what AWS answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from approvals.adapters import aws
from approvals.adapters.dynamo import transact
from approvals.adapters.events import Events
from approvals.adapters.store import Store
from approvals.domain import Approval
from approvals.domain.audit import NewEvent
from approvals.unit_of_work.ports import WriteContended
from local import faults
from local.faults import FaultPlan, ProcessDied

OPERATION = {  # one operation each kind may hit
    faults.TRANSACTION_CONFLICT: "dynamodb.TransactWriteItems",
    faults.DYNAMODB_THROTTLE: "dynamodb.Query",
    faults.LAMBDA_SERVICE_ERROR: "lambda.Invoke",
    faults.SFN_THROTTLE: "stepfunctions.SendTaskSuccess",
    faults.EVENTS_PARTIAL_FAILURE: "events.PutEvents",
    faults.EVENTS_THROTTLE: "events.PutEvents",
    faults.SLOW_ANSWER: "dynamodb.PutItem",
    faults.PROCESS_DEATH: "s3.PutObject",
}


def draws(plan: FaultPlan, kind: str, n: int = 500) -> list[bool]:
    with faults.in_function("SomeFunction"):  # where random deaths may happen
        return [plan.decide(kind, OPERATION[kind]) for _ in range(n)]


# --- the plan ------------------------------------------------------------------------------------


def test_off_by_default() -> None:
    plan = FaultPlan()
    assert all(plan.rate(kind) == 0.0 for kind in faults.KINDS)
    assert not any(any(draws(plan, kind)) for kind in faults.KINDS)
    assert plan.counts == {} and plan.total == 0
    assert faults.from_environment({}) is None
    assert faults.active() is None  # nothing installed


def test_the_stack_has_no_faults_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.stack import MotoStack

    monkeypatch.delenv(faults.ENV, raising=False)
    assert MotoStack().faults is None
    monkeypatch.setenv(faults.ENV, "7:0.05")
    plan = MotoStack().faults
    assert plan is not None and plan.seed == 7 and plan.rate(faults.DYNAMODB_THROTTLE) == 0.05


@pytest.mark.parametrize("kind", faults.KINDS)
def test_the_same_seed_decides_the_same(kind: str) -> None:
    first, again = FaultPlan.of(11, {kind: 0.3}), FaultPlan.of(11, {kind: 0.3})
    assert draws(first, kind) == draws(again, kind)
    assert first.counts == again.counts
    assert draws(FaultPlan.of(12, {kind: 0.3}), kind) != draws(FaultPlan.of(11, {kind: 0.3}), kind)


def test_one_kind_does_not_shift_another() -> None:
    alone = FaultPlan.of(5, {faults.SFN_THROTTLE: 0.2})
    with_more = FaultPlan.of(5, {faults.SFN_THROTTLE: 0.2, faults.DYNAMODB_THROTTLE: 0.5})
    mixed: list[bool] = []
    for _ in range(300):
        with_more.decide(faults.DYNAMODB_THROTTLE, "dynamodb.PutItem")
        mixed.append(with_more.decide(faults.SFN_THROTTLE, "stepfunctions.StartExecution"))
    assert mixed == [alone.decide(faults.SFN_THROTTLE, "stepfunctions.StartExecution") for _ in range(300)]


@pytest.mark.parametrize("kind", faults.KINDS)
@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_each_kind_fires_at_its_rate(kind: str, rate: float) -> None:
    plan = FaultPlan.of(3, {kind: rate})
    fired = sum(draws(plan, kind, 4000))
    assert abs(fired / 4000 - rate) < 0.025, fired
    assert plan.counts == {kind: fired}
    assert plan.where == {f"{kind} {OPERATION[kind]}": fired}
    others = [k for k in faults.KINDS if k != kind]
    assert not any(any(draws(plan, other, 200)) for other in others)


def test_a_kind_hits_only_its_operations() -> None:
    plan = FaultPlan.of(1, dict.fromkeys(faults.KINDS, 1.0))
    with faults.in_function("SomeFunction"):
        assert not plan.decide(faults.TRANSACTION_CONFLICT, "dynamodb.PutItem")
        assert not plan.decide(faults.SFN_THROTTLE, "stepfunctions.DescribeExecution")
        assert not plan.decide(faults.PROCESS_DEATH, "dynamodb.Query")
        assert plan.decide(faults.DYNAMODB_THROTTLE, "dynamodb.PutItem")
    assert plan.counts == {faults.DYNAMODB_THROTTLE: 1}


def test_random_deaths_only_in_a_function_and_never_while_observing() -> None:
    plan = FaultPlan.of(1, dict.fromkeys(faults.KINDS, 1.0))
    assert not plan.decide(faults.PROCESS_DEATH, "s3.PutObject")  # the test's own thread: no function
    with faults.in_function("FinishFunction"):
        assert plan.decide(faults.PROCESS_DEATH, "s3.PutObject")
        with faults.observing():
            assert not any(plan.decide(kind, OPERATION[kind]) for kind in faults.KINDS)
    assert plan.counts == {faults.PROCESS_DEATH: 1}
    narrower = FaultPlan.of(1, {faults.PROCESS_DEATH: 1.0})
    narrower.death_points = frozenset({"s3.PutObject"})
    with faults.in_function("FinishFunction"):
        assert not narrower.decide(faults.PROCESS_DEATH, "events.PutEvents")


def test_scripted_faults_fire_as_many_times_as_asked_where_they_match() -> None:
    plan = FaultPlan()
    plan.crash_after("dynamodb.TransactWriteItems", match="Decision Recorded")
    plan.refuse(faults.SFN_THROTTLE, operation="stepfunctions.StartExecution", times=2)
    plan.refuse(faults.DYNAMODB_THROTTLE, function="OpenStep")
    assert plan.pending() == 4
    assert not plan.decide(faults.PROCESS_DEATH, "dynamodb.TransactWriteItems", lambda: '"Step Opened"')
    assert plan.decide(faults.PROCESS_DEATH, "dynamodb.TransactWriteItems", lambda: '"Decision Recorded"')
    assert not plan.decide(faults.PROCESS_DEATH, "dynamodb.TransactWriteItems", lambda: '"Decision Recorded"')
    assert not plan.decide(faults.SFN_THROTTLE, "stepfunctions.SendTaskSuccess")
    assert [plan.decide(faults.SFN_THROTTLE, "stepfunctions.StartExecution") for _ in range(3)] == [
        True, True, False]
    assert not plan.decide(faults.DYNAMODB_THROTTLE, "dynamodb.Query")  # not in that function
    with faults.in_function("approvals-local-OpenStepFunction-1"):
        assert plan.decide(faults.DYNAMODB_THROTTLE, "dynamodb.Query")
    assert plan.pending() == 0
    assert plan.counts == {faults.PROCESS_DEATH: 1, faults.SFN_THROTTLE: 2, faults.DYNAMODB_THROTTLE: 1}


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(dynamodb_throttle=1.5)
    with pytest.raises(ValueError, match="no death point"):
        FaultPlan().crash_after("dynamodb.Query")
    with pytest.raises(ValueError, match="does not hit"):
        FaultPlan().refuse(faults.SFN_THROTTLE, operation="events.PutEvents")
    with pytest.raises(ValueError, match="no retryable kind"):
        FaultPlan().refuse(faults.PROCESS_DEATH)


def test_the_setting() -> None:
    plan = FaultPlan.from_setting("42:0.05")
    assert plan.seed == 42 and plan.rate(faults.PROCESS_DEATH) == 0.0
    assert all(plan.rate(kind) == 0.05 for kind in faults.RETRYABLE)
    plan = FaultPlan.from_setting("7:dynamodb_throttle=0.1,process_death=0.01")
    assert (plan.rate(faults.DYNAMODB_THROTTLE), plan.rate(faults.PROCESS_DEATH), plan.rate(faults.SFN_THROTTLE)) == (
        0.1, 0.01, 0.0)
    assert faults.from_environment({faults.ENV: "3:0.2"}) == FaultPlan.retryable(3, 0.2)
    for bad in ("7", "x:0.1", "7:", "7:nothing=0.1", "7:2"):
        with pytest.raises(ValueError, match=faults.ENV):
            FaultPlan.from_setting(bad)


# --- the hooks, in moto ----------------------------------------------------------------------------------


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        yield
    faults.uninstall()


def client(service: str, attempts: int = 3) -> Any:
    return boto3.client(service, region_name="us-east-1",
                        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


def table() -> Store:
    ddb = client("dynamodb")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    return Store("t", client=ddb)


def test_a_transaction_conflict_writes_nothing_and_is_contended(moto: None) -> None:
    store = table()
    plan = FaultPlan(transaction_conflict=1.0)
    faults.install(plan)
    approval = Approval(id="a1", tenant="acme", flow="f", flow_version=1, requester="ann", input={},
                        created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")
    with pytest.raises(WriteContended):
        store.create(approval)
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "x"}, "sk": {"S": str(n)}}}} for n in range(3)]
    with pytest.raises(ClientError) as cancelled:
        store.client.transact_write_items(TransactItems=items)
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in error["CancellationReasons"]]
    assert sorted(reasons) == ["None", "None", "TransactionConflict"], reasons
    assert "TransactionConflict" in error["Error"]["Message"]
    with faults.observing():
        assert store.client.scan(TableName="t")["Items"] == []  # nothing was written
    assert plan.counts == {faults.TRANSACTION_CONFLICT: 2}


def test_throttling_is_retried_by_the_sdk_and_then_surfaces(moto: None) -> None:
    store = table()
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.DYNAMODB_THROTTLE, operation="dynamodb.PutItem", times=2)
    store.client.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "1"}})  # third attempt passes
    assert plan.counts == {faults.DYNAMODB_THROTTLE: 2}
    plan.refuse(faults.DYNAMODB_THROTTLE, operation="dynamodb.Query", times=3)
    with pytest.raises(ClientError) as throttled:
        store.client.query(TableName="t", KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "p"}})
    assert throttled.value.response["Error"]["Code"] in ("ProvisionedThroughputExceededException",
                                                         "ThrottlingException")
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    plan.refuse(faults.DYNAMODB_THROTTLE, operation="dynamodb.TransactWriteItems", times=3)
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}}]
    with pytest.raises(WriteContended):
        transact(store.client, items, on_first=RuntimeError("not this"))


def test_moto_inside_a_transaction_is_not_a_call_of_its_own(moto: None) -> None:
    store = table()  # moto's transaction puts its items through put_item: that is not a PutItem request
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.DYNAMODB_THROTTLE, operation="dynamodb.PutItem")
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "x"}, "sk": {"S": str(n)}}}} for n in range(2)]
    store.client.transact_write_items(TransactItems=items)
    assert plan.pending() == 1 and plan.total == 0
    plan.clear()


def test_put_events_partial_failure_and_throttling(moto: None) -> None:
    events = client("events")
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.EVENTS_PARTIAL_FAILURE, match="second")
    entries = [{"Source": "approvals", "DetailType": "T", "Detail": json.dumps({"n": n})} for n in ("first", "second")]
    answer = events.put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 1
    assert "EventId" in answer["Entries"][0] and answer["Entries"][1]["ErrorCode"] == "InternalFailure"
    plan.refuse(faults.EVENTS_PARTIAL_FAILURE)
    with pytest.raises(RuntimeError, match="EventBridge refused"):  # the adapter: the event stays in the outbox
        Events("default", client=events).put("T", {"n": 1})
    # Step Functions' own events are AWS's: never refused.
    plan.refuse(faults.EVENTS_PARTIAL_FAILURE)
    status = events.put_events(Entries=[{"Source": "aws.states", "DetailType": "S", "Detail": "{}"}])
    assert status["FailedEntryCount"] == 0 and plan.pending() == 1
    plan.clear()
    plan.refuse(faults.EVENTS_THROTTLE, times=3)
    with pytest.raises(ClientError, match="ThrottlingException"):
        events.put_events(Entries=entries[:1])
    assert plan.counts == {faults.EVENTS_PARTIAL_FAILURE: 2, faults.EVENTS_THROTTLE: 3}


def test_sfn_throttling(moto: None) -> None:
    sfn = client("stepfunctions", attempts=1)
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.SFN_THROTTLE, operation="stepfunctions.SendTaskSuccess")
    with pytest.raises(ClientError) as throttled:
        sfn.send_task_success(taskToken="t", output="{}")
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    with pytest.raises(ClientError) as gone:  # not injected: moto's own answer
        sfn.send_task_success(taskToken="t", output="{}")
    assert gone.value.response["Error"]["Code"] != "ThrottlingException"


def test_a_slow_answer_is_applied_and_the_sdk_sends_it_again(moto: None) -> None:
    store = table()
    ddb = store.client
    plan = FaultPlan()
    faults.install(plan)
    with faults.observing():
        ddb.put_item(TableName="t", Item={"pk": {"S": "seen"}, "sk": {"S": "1"}})  # never faulted
    # Applied, answered too late: botocore retries the ReadTimeoutError; the repeat writes the same item.
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.PutItem")
    answer = ddb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "1"}})
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    # A conditional write's repeat meets the item the first attempt wrote.
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.PutItem")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "2"}},
                     ConditionExpression="attribute_not_exists(pk)")
    with faults.observing():
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "2"}}).get("Item")
    # Each attempt past the SDK's is applied too; the caller sees the ReadTimeoutError.
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.UpdateItem", times=3)
    with pytest.raises(ReadTimeoutError):
        ddb.update_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, UpdateExpression="ADD n :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    with faults.observing():
        item = ddb.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}})["Item"]
    assert item["n"] == {"N": "3"}
    assert plan.counts == {faults.SLOW_ANSWER: 5}
    assert plan.where == {"slow_answer dynamodb.PutItem": 2, "slow_answer dynamodb.UpdateItem": 3}


def test_the_adapters_client_takes_its_own_conditional_put_answered_too_late(moto: None) -> None:
    """approvals.adapters.aws: a PutItem written only if absent, returning the old item when refused
    (ALL_OLD, as powertools' idempotency layer asks), applied and answered too late. The SDK's
    repeat is refused with exactly the item this call wrote: the client answers success. The same
    refusal without a lost answer before it, or without ALL_OLD, stays a refusal."""
    ddb = table().client
    aws.recognise_own_puts(ddb)
    plan = FaultPlan()
    faults.install(plan)
    put: dict[str, Any] = {"TableName": "t", "ConditionExpression": "attribute_not_exists(pk)",
                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    mine = {"pk": {"S": "k"}, "sk": {"S": "1"}, "in_progress": {"N": "1700000000123"}}
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.PutItem")
    answer = ddb.put_item(Item=mine, **put)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1 and "Attributes" not in answer
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):  # no answer lost: someone else's
        ddb.put_item(Item=mine, **put)
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.PutItem")
    without = {k: v for k, v in put.items() if k != "ReturnValuesOnConditionCheckFailure"}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(Item={**mine, "sk": {"S": "2"}}, **without)
    assert plan.counts == {faults.SLOW_ANSWER: 2}


def test_a_repeated_transaction_is_answered_as_dynamodb_answers_its_client_token(moto: None) -> None:
    """botocore gives every TransactWriteItems a ClientRequestToken, the same on its retries, and
    DynamoDB answers a repeat success without applying it again (10 minutes); moto does not, the hook does."""
    store = table()
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.SLOW_ANSWER, operation="dynamodb.TransactWriteItems", match="a1")
    approval = Approval(id="a1", tenant="acme", flow="f", flow_version=1, requester="ann", input={},
                        created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")
    store.create(approval, [NewEvent("Approval Started", actor="ann", data={})])  # each item written if absent
    assert plan.counts == {faults.SLOW_ANSWER: 1}
    with faults.observing():
        assert sorted(i["sk"]["S"] for i in store.client.scan(TableName="t")["Items"]) == ["A", "E#00000001"]
    ddb = store.client
    once = [{"Update": {"TableName": "t", "Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    for _ in range(2):
        ddb.transact_write_items(TransactItems=once, ClientRequestToken="token-1")
    with faults.observing():
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "c"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "1"}
    other = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}, "sk": {"S": "2"}}}}]
    with pytest.raises(ClientError) as mismatch:
        ddb.transact_write_items(TransactItems=other, ClientRequestToken="token-1")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    ddb.transact_write_items(TransactItems=once, ClientRequestToken="token-2")  # another token: applied
    with faults.observing():
        assert ddb.get_item(TableName="t", Key={"pk": {"S": "c"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "2"}


def test_a_slow_put_events_puts_the_entries_twice(moto: None) -> None:
    events, sqs = client("events"), client("sqs")
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["approvals", "aws.states"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    plan = FaultPlan()
    faults.install(plan)
    plan.refuse(faults.SLOW_ANSWER, operation="events.PutEvents")
    events.put_events(Entries=[{"Source": "aws.states", "DetailType": "S", "Detail": "{}"}])  # AWS's own: never
    assert plan.pending() == 1
    answer = events.put_events(Entries=[{"Source": "approvals", "DetailType": "T", "Detail": json.dumps({"n": 1})}])
    assert answer["FailedEntryCount"] == 0 and answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert plan.counts == {faults.SLOW_ANSWER: 1}
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["source"] for b in bodies) == ["approvals", "approvals", "aws.states"]


def test_the_process_dies_right_after_the_call_succeeded(moto: None) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="the-archive")
    plan = FaultPlan()
    faults.install(plan)
    plan.crash_after("s3.PutObject", match="doc.json")
    s3.put_object(Bucket="the-archive", Key="other.json", Body=b"{}")
    with pytest.raises(ProcessDied):
        s3.put_object(Bucket="the-archive", Key="doc.json", Body=b"{}")
    assert s3.get_object(Bucket="the-archive", Key="doc.json")["Body"].read() == b"{}"  # the effect happened
    assert plan.counts == {faults.PROCESS_DEATH: 1}
    assert not isinstance(ProcessDied("x"), Exception)  # no `except Exception` of the product catches it


def test_uninstall_restores_moto(moto: None) -> None:
    from botocore.client import BaseClient
    from botocore.endpoint import Endpoint
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.events.models import EventsBackend

    before = (DynamoDBBackend.transact_write_items, DynamoDBBackend.query, EventsBackend.put_events,
              BaseClient._make_api_call, Endpoint._do_get_response, DynamoHandler.transact_write_items)
    faults.install(FaultPlan(dynamodb_throttle=1.0))
    faults.install(FaultPlan(dynamodb_throttle=1.0))  # idempotent: one set of hooks
    assert DynamoDBBackend.query is not before[1]
    faults.uninstall()
    assert (DynamoDBBackend.transact_write_items, DynamoDBBackend.query, EventsBackend.put_events,
            BaseClient._make_api_call, Endpoint._do_get_response, DynamoHandler.transact_write_items) == before
    assert faults.active() is None
    store = table()
    store.client.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "1"}})  # no faults left


def test_lambdas_service_errors_answer_the_interpreters_invoke(moto: None) -> None:
    lam = client("lambda", attempts=1)  # as the ASL interpreter's client: no retries
    plan = FaultPlan()
    faults.install(plan)
    faults.hook_interpreter_client(lam)
    plan.refuse(faults.LAMBDA_SERVICE_ERROR, match="OpenStep")
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="approvals-OpenStepFunction", Payload=b"{}")
    answer = refused.value.response
    assert (answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]) in (
        ("ServiceException", 500), ("TooManyRequestsException", 429))
    assert answer["ResponseMetadata"]["RequestId"]  # what Step Functions puts in the error's cause
    with pytest.raises(ClientError) as missing:  # not injected: the function does not exist in moto
        lam.invoke(FunctionName="approvals-OpenStepFunction", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert plan.counts == {faults.LAMBDA_SERVICE_ERROR: 1}
