"""Step Functions' 256 KiB per state, in the local stack as on AWS (local/moto_limits.py).

Small machines of their own in the stack's Step Functions: a state's output or its input after
Parameters over 262,144 bytes of UTF-8 JSON fails the execution with States.DataLimitExceeded,
which names the state and the size and which States.ALL neither catches nor retries; exactly
262,144 bytes runs; StartExecution and SendTaskSuccess refuse more. The Task cases use DynamoDB
tasks (a table of their own), whose results go through the same check as the flows' Lambda tasks.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import botocore.exceptions
import pytest

from local.stack import MotoStack

LIMIT = 262_144  # AWS's figure, not the module's constant: a wrong constant fails here
ROLE = "arn:aws:iam::123456789012:role/state-limits"
ERROR = "States.DataLimitExceeded"
_names = itertools.count()


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def machine(stack: MotoStack, states: dict[str, Any], start: str) -> str:
    definition = {"StartAt": start, "States": states}
    return str(stack.client("stepfunctions").create_state_machine(
        name=f"state-limits-{next(_names)}", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


def run(stack: MotoStack, arn: str, execution_input: str = "{}", timeout: float = 30) -> dict[str, Any]:
    """The execution once it has ended, with its history's event types under "events"."""
    sfn = stack.client("stepfunctions")
    # Named: moto's interpreter names an unnamed execution "None" (AWS: a UUID).
    execution = sfn.start_execution(stateMachineArn=arn, name=f"run-{next(_names)}", input=execution_input)[
        "executionArn"]
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution} still running after {timeout}s"
        time.sleep(0.05)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return {**described, "events": [e["type"] for e in events]}


def failed_over_limit(ended: dict[str, Any], state: str, size: int) -> None:
    assert (ended["status"], ended.get("error")) == ("FAILED", ERROR), ended
    assert f"State '{state}' holds {size:,} bytes" in ended["cause"], ended["cause"]


@pytest.fixture(scope="module")
def table(stack: MotoStack) -> str:
    name = "state-limits"
    stack.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    return name


def test_a_state_of_exactly_256_kib_runs(stack: MotoStack) -> None:
    """AWS counts compact UTF-8 JSON and allows 262,144 bytes: no spaces, and "é" is 2 bytes, not \\u00e9."""
    arn = machine(stack, {"Keep": {"Type": "Pass", "End": True}}, "Keep")
    text = compact({"x": "é" * ((LIMIT - len(compact({"x": ""}))) // 2)})
    assert len(text.encode()) == LIMIT
    ended = run(stack, arn, text)
    assert ended["status"] == "SUCCEEDED", ended
    assert json.loads(ended["output"]) == json.loads(text)


def test_a_pass_state_whose_output_passes_the_limit_fails_the_execution(stack: MotoStack) -> None:
    # Parameters (x once) stay under; ResultPath adds them to the input: the output holds x twice.
    arn = machine(stack, {"Copy": {"Type": "Pass", "Parameters": {"c.$": "$.x"}, "ResultPath": "$.c", "End": True}},
                  "Copy")
    over = (LIMIT + 1 - len(compact({"x": "", "c": {"c": ""}}))) // 2
    assert len(compact({"x": "a" * over, "c": {"c": "a" * over}})) == LIMIT + 1
    ended = run(stack, arn, compact({"x": "a" * over}))
    failed_over_limit(ended, "Copy", LIMIT + 1)
    assert "PassStateExited" not in ended["events"]
    assert run(stack, arn, compact({"x": "a" * (over - 1)}))["status"] == "SUCCEEDED"  # 262,143 bytes


def test_an_input_after_parameters_over_the_limit_fails_the_task_before_it_runs(stack: MotoStack, table: str) -> None:
    arn = machine(stack, {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True,
        "Parameters": {"TableName": table, "Item": {"k": {"S": "twice"}, "a": {"S.$": "$.x"}, "b": {"S.$": "$.x"}}},
    }}, "Put")
    ended = run(stack, arn, compact({"x": "a" * 150_000}))
    assert (ended["status"], ended.get("error")) == ("FAILED", ERROR), ended
    assert "after Parameters" in ended["cause"] and "State 'Put' holds 300,0" in ended["cause"]
    assert "TaskScheduled" not in ended["events"]
    assert "Item" not in stack.client("dynamodb").get_item(TableName=table, Key={"k": {"S": "twice"}})


def test_states_all_neither_retries_nor_catches_a_task_result_over_the_limit(stack: MotoStack, table: str) -> None:
    stack.client("dynamodb").put_item(TableName=table, Item={"k": {"S": "large"}, "v": {"S": "b" * 300_000}})

    def get_item(error_equals: list[str]) -> str:
        return machine(stack, {
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "End": True,
                    "Parameters": {"TableName": table, "Key": {"k": {"S": "large"}}},
                    "Retry": [{"ErrorEquals": error_equals, "MaxAttempts": 2, "IntervalSeconds": 1}],
                    "Catch": [{"ErrorEquals": error_equals, "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": True},
        }, "Get")

    ended = run(stack, get_item(["States.ALL"]))
    failed_over_limit(ended, "Get", len(compact({"Item": {"k": {"S": "large"}, "v": {"S": "b" * 300_000}}})))
    assert ended["events"].count("TaskScheduled") == 1  # not retried
    assert "PassStateEntered" not in ended["events"]  # not caught
    # Its own name still matches: retried (the same result each time), then caught.
    named = run(stack, get_item([ERROR]))
    assert named["status"] == "SUCCEEDED", named
    assert named["events"].count("TaskScheduled") == 3 and "PassStateEntered" in named["events"]


@pytest.mark.parametrize("kind", ["Parallel", "Map"])
def test_a_branch_or_iteration_over_the_limit_fails_the_execution_with_that_error(stack: MotoStack, kind: str) -> None:
    """Not States.Runtime (moto refuses a "States." name from a branch or an iteration), and not
    caught by States.ALL."""
    inner = {"StartAt": "Double", "States": {"Double": {
        "Type": "Pass", "Parameters": {"a.$": "$.x", "b.$": "$.x"}, "End": True}}}
    shape = {"Branches": [inner]} if kind == "Parallel" else {"ItemsPath": "$.items", "ItemProcessor": inner}
    arn = machine(stack, {
        "Fan": {"Type": kind, **shape, "End": True, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True},
    }, "Fan")
    item = {"x": "a" * 150_000}  # Double holds it twice: 300,015 bytes
    ended = run(stack, arn, compact(item if kind == "Parallel" else {"items": [item]}))
    failed_over_limit(ended, "Double", 300_015)
    assert f"{kind}StateFailed" in ended["events"] and "PassStateExited" not in ended["events"]


def test_start_execution_refuses_an_input_over_the_limit(stack: MotoStack) -> None:
    arn = machine(stack, {"Keep": {"Type": "Pass", "End": True}}, "Keep")
    text = compact({"x": "é" * ((LIMIT - len(compact({"x": ""}))) // 2) + "a"})
    assert len(text.encode()) == LIMIT + 1
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        stack.client("stepfunctions").start_execution(stateMachineArn=arn, input=text)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "'input'" in refused.value.response["Error"]["Message"]
    assert not stack.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_send_task_success_refuses_an_output_over_the_limit(stack: MotoStack) -> None:
    """Before the token is looked at: an unknown token with a small output is InvalidToken."""
    sfn = stack.client("stepfunctions")
    codes = []
    for output in ("{}", compact({"x": "a" * LIMIT})):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            sfn.send_task_success(taskToken="no-such-token", output=output)
        codes.append(refused.value.response["Error"]["Code"])
    assert codes == ["InvalidToken", "ValidationException"]
