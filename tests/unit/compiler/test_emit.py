"""The shape architecture.md asks for, checked on the compiled definitions."""

from __future__ import annotations

import json
import re
from typing import Any

from dsl_compiler import compile_file, compile_text
from dsl_compiler.asl import LAMBDA_TRANSIENT
from tests.conftest import FLOWS, ROOT


def all_states(states: dict[str, Any]) -> dict[str, Any]:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(all_states(branch["States"]))
    return found


def test_every_arn_is_a_placeholder() -> None:
    for flow in FLOWS:
        text = json.dumps(compile_file(flow).definition)
        assert "arn:aws:lambda" not in text
        names = set(re.findall(r'"FunctionName": "([^"]*)"', text))
        assert names and all(re.fullmatch(r"\$\{[A-Za-z]+Arn\}", n) for n in names)


def test_one_token_task_per_human_stage() -> None:
    definition = compile_file(ROOT / "flows" / "leave-request.yaml").definition
    tasks = [n for n, s in definition["States"].items() if s.get("Resource", "").endswith("waitForTaskToken")]
    # manager + its escalation, director + its escalation, hr
    assert tasks == [
        "Manager approval",
        "Manager escalation",
        "Director approval",
        "Director escalation",
        "Hr approval",
    ]
    manager = definition["States"]["Manager approval"]
    assert manager["TimeoutSeconds"] == 3 * 86400
    assert manager["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": "$.error",
        "Next": "Manager escalation",
    }


def test_when_compiles_to_a_native_choice() -> None:
    definition = compile_file(ROOT / "flows" / "leave-request.yaml").definition
    choice = definition["States"]["Director needed?"]
    assert choice["Type"] == "Choice"
    assert choice["Default"] == "Hr approval"
    assert choice["Choices"][0]["Next"] == "Director approval"
    assert '"$.input.days"' in json.dumps(choice["Choices"][0])


def test_errors_inside_a_parallel_are_caught_on_the_parallel() -> None:
    definition = compile_file(ROOT / "flows" / "purchase-order.yaml").definition
    reviews = definition["States"]["Reviews"]
    assert reviews["Type"] == "Parallel"
    caught = [c["ErrorEquals"] for c in reviews["Catch"]]
    assert caught == [["Approval.Rejected"], ["Approval.Withdrawn"], ["States.ALL"]]
    # a step that failed in a branch (its retries spent) ends the run `failed`, through Finish
    assert reviews["Catch"][-1]["Next"] == "Failed"
    branch = reviews["Branches"][0]["States"]
    legal = branch["Legal approval"]
    # inside the branch only the timeout is caught; rejection propagates to the Parallel
    assert [c["ErrorEquals"] for c in legal["Catch"]] == [["States.Timeout"]]
    assert branch["Reviews branch 1 rejected"] == {
        "Type": "Fail",
        "Error": "Approval.Rejected",
        "Cause": "the step was rejected",
    }


def test_saga_compensates_succeeded_actions_in_reverse_order() -> None:
    text = """
flow: saga
version: 1
steps:
  - {id: boss, type: approval, approvers: {manager: 1}, timeout: none}
  - {id: first, type: action, function: DoA, compensate: UndoA}
  - {id: second, type: action, function: DoB, compensate: UndoB}
  - {id: last, type: approval, approvers: {role: x}, timeout: none}
"""
    states = compile_text(text).definition["States"]
    assert states["Rejected"]["Next"] == "Undo second?"
    assert states["Undo second?"]["Choices"][0] == {
        "Variable": "$.actions.second",
        "IsPresent": True,
        "Next": "Undo second",
    }
    assert states["Undo second"]["Next"] == "Undo first?"
    assert states["Undo first?"]["Default"] == "After compensation"
    assert states["First"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failures.first", "Next": "Failed"}
    ]
    assert states["Failed"]["Next"] == "Undo second?"  # a failure is compensated too, then recorded as one
    after = {c["StringEquals"]: c["Next"] for c in states["After compensation"]["Choices"]}
    assert after == {"failed": "Record failure"} and states["After compensation"]["Default"] == "Record outcome"
    assert states["Record failure"]["Next"] == "Approval failed"
    assert states["Record outcome"]["End"] is True
    assert "Outcome failed?" not in states


def test_return_routes_by_error_name_and_resubmission_restarts() -> None:
    states = compile_file(ROOT / "flows" / "contract-review.yaml").definition["States"]
    # One catcher for every return (emit_returns.py), to the router, which routes by error name.
    last = states["Committee approval"]["Catch"][-1]
    assert last == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.returned", "Next": "Returned to?"}
    committee = {c["StringEquals"]: c["Next"] for c in states["Returned to?"]["Choices"]}
    assert committee["Approval.Returned.legal"] == "Legal approval"
    assert committee["Approval.Returned.requester"] == "Wait for resubmission"
    resubmit = states["Wait for resubmission"]
    assert resubmit["ResultPath"] == "$.input"
    assert resubmit["Next"] == "Legal approval"


def test_action_retry_counts_attempts() -> None:
    states = compile_file(ROOT / "flows" / "access-request.yaml").definition["States"]
    service, retry = states["Grant access"]["Retry"]
    assert service["ErrorEquals"] == LAMBDA_TRANSIENT  # first, on a count of its own
    assert retry == {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2.0}
    assert states["Grant access"]["Parameters"]["Payload"]["input"] == {
        "system.$": "$.input.system",
        "role.$": "$.input.role",
        "hours.$": "$.input.hours",
    }


def test_runtime_tasks_retry_a_crash_of_their_function_and_actions_do_not() -> None:
    """Lambda.Unknown (a crash, a timeout, out of memory) is retried where the handler is ours and
    idempotent; a flow's action (and its undo) only as its `retry` says."""
    states = compile_file(ROOT / "flows" / "access-request.yaml").definition["States"]
    ours = ("${OpenStepFunctionArn}", "${StepTimedOutFunctionArn}", "${NotifyFunctionArn}")
    retried = {name: [e for r in s["Retry"] for e in r["ErrorEquals"]]
               for name, s in states.items() if s["Type"] == "Task"}
    runtime = [name for name in retried if states[name]["Parameters"]["FunctionName"] in ours]
    assert len(runtime) == 8  # three steps with their timeouts, an escalation, the notify
    assert all(retried[name] == [*LAMBDA_TRANSIENT, "Lambda.Unknown"] for name in runtime)
    assert "Lambda.Unknown" not in retried["Grant access"] + retried["Undo grant-access"]


def test_an_escalation_without_its_own_timeout_runs_for_the_steps_and_may_say_what_then() -> None:
    text = """flow: escalate-then-approve
version: 1
steps:
  - id: review
    type: approval
    approvers: {users: [bob]}
    timeout: 2d
    on_timeout: {escalate_to: {users: [carol]}, on_timeout: approve}
"""
    states = compile_text(text).definition["States"]
    escalation = states["Review escalation"]
    assert escalation["TimeoutSeconds"] == 2 * 86400  # the step's
    after = escalation["Catch"][0]["Next"]
    assert escalation["Catch"][0]["ErrorEquals"] == ["States.Timeout"]
    # What follows the escalation's timeout approves (StepTimedOutFunction with outcome approved).
    assert states[after]["Parameters"]["Payload"]["outcome"] == "approved"


def test_a_step_that_may_return_fails_into_the_failed_path_from_a_branch_too() -> None:
    text = """
flow: returning-branch
version: 1
steps:
  - {id: first, type: approval, approvers: {users: [bob]}, timeout: none}
  - id: both
    type: parallel
    branches:
      - - {id: inner, type: approval, approvers: {users: [ann]}, timeout: none, allow: [return]}
      - - {id: other, type: approval, approvers: {users: [carol]}, timeout: none, allow: [return]}
"""
    states = compile_text(text).definition["States"]
    # The branch's router raises a failure again (not a return), so the Parallel must catch it last.
    both = states["Both"]
    assert both["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failures.both", "Next": "Failed"}
    assert states["First approval"]["Catch"][-1]["Next"] == "Failed"
