"""Returns (退回) in the compiled machine (dsl_compiler/emit_returns.py): one catcher per stage,
one router per scope, returns out of Parallel branches as `Approval.Returning`; and runs of a
compiled machine in moto's ASL interpreter where each human Task is replaced by a stub that
completes or fails the way a scripted decision would, so that the routing itself is what runs."""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from approvals.contract.names import result_key
from dsl_compiler import compile_text
from tests.unit.compiler.machines import EDGE
from tests.unit.compiler.test_task_payloads import resolved, tasks

# moto's Parallel stops a cancelled branch's thread with an exception: noise, not a finding here
# (run() waits for those threads, so that the warning cannot land in another module's test).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
ROLE = "arn:aws:iam::123456789012:role/sfn"
DEFINITION = compile_text(EDGE["returns-everywhere"]).definition
_names = itertools.count()


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"])


def test_each_stage_has_one_catcher_for_its_returns_whatever_their_number() -> None:
    for name, state in all_states(DEFINITION["States"]):
        names = [e for c in state.get("Catch", []) for e in c["ErrorEquals"]]
        assert not [e for e in names if e.startswith("Approval.Returned.")], name
        if state.get("Parameters", {}).get("Payload", {}).get("spec", {}).get("allow") == ["return"]:
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_stages_read_their_return_targets_from_the_kept_lists() -> None:
    found = {}
    for _, state in tasks(DEFINITION["States"]):
        payload = state["Parameters"]["Payload"]
        if "spec" in payload and payload["kind"] == "approval":
            found[payload["step"]] = resolved(payload["spec"], DEFINITION)["return_to"]
    assert found == {"first": [], "left": ["requester", "first"], "left-2": ["requester", "first", "left"],
                     "deep": ["requester", "first"], "last": ["requester", "first"]}


def test_an_approval_in_a_parallel_in_a_branch_is_no_return_target() -> None:
    # As for any earlier parallel's approvals; the one beside the parallel, in the same case, is one.
    manifest = compile_text(EDGE["return-past-a-parallel-in-a-branch"]).manifest
    after = next(s for s in manifest["steps"] if s["id"] == "after")
    assert after["return_to"] == ["beside", "requester"]


# --- runs ---------------------------------------------------------------------------------


def stubbed(machine: dict[str, Any]) -> dict[str, Any]:
    """`machine` with Lambda Tasks as Pass states, and each human Task as a stub: until a return
    happened it fails with the error `$.script.<step key>` names, if any (as SendTaskFailure
    would), else it approves; the error goes to the first of the Task's catchers that takes it,
    as on AWS."""
    states: dict[str, Any] = {}
    for name, state in machine["States"].items():
        state = copy.deepcopy(state)
        if "Branches" in state:
            state["Branches"] = [stubbed(b) for b in state["Branches"]]
            # A branch starts from what the Parallel passes it (emit.BRANCH_INPUT): the stubs' own two too.
            state["Parameters"].update({"script.$": "$.script", "returned.$": "$.returned"})
        if state["Type"] != "Task":
            states[name] = state
            continue
        then = {"Next": state["Next"]} if "Next" in state else {"End": True}
        payload = state["Parameters"]["Payload"]
        if "task_token.$" not in payload:
            states[name] = {"Type": "Pass", "ResultPath": None, **then}
            continue
        script = f"$.script.{result_key(payload['step'].lstrip('@'))}"
        ok = f"{name} /ok"
        # Before the first return only: a branch's state is dropped when its Parallel fails, so the
        # script cannot be struck out as it is played, while `$.returned` reaches every later stage.
        first_pass = {"Variable": "$.returned", "IsNull": True}
        states[name] = {"Type": "Choice", "Default": ok, "Choices": [
            {"And": [first_pass, {"Variable": script, "IsPresent": True}], "Next": f"{name} /fails"}]}
        states[ok] = {"Type": "Pass", **then}
        states[f"{name} /fails"] = {"Type": "Pass", "Parameters": {"Error.$": script, "Cause": "scripted"},
                                   "ResultPath": "$.caught", "Next": f"{name} /catch"}
        rules = []
        for i, catcher in enumerate(state.get("Catch", [])):
            apply = f"{name} /catch {i}"
            states[apply] = {"Type": "Pass", "InputPath": "$", "Parameters": {"Error.$": "$.caught.Error",
                             "Cause.$": "$.caught.Cause"}, "ResultPath": catcher["ResultPath"], "Next": catcher["Next"]}
            takes: list[dict[str, Any]] = [
                {"Variable": "$.caught.Error", "IsPresent": True} if e == "States.ALL"
                else {"Variable": "$.caught.Error", "StringEquals": e} for e in catcher["ErrorEquals"]]
            rules.append({"Or": takes, "Next": apply} if len(takes) > 1 else {**takes[0], "Next": apply})
        uncaught = f"{name} /uncaught"
        states[uncaught] = {"Type": "Fail", "ErrorPath": "$.caught.Error", "Cause": "scripted"}
        states[f"{name} /catch"] = {"Type": "Choice", "Choices": rules or [
            {"Variable": "$.caught.Error", "StringEquals": "never", "Next": uncaught}], "Default": uncaught}
    return {"StartAt": machine["StartAt"], "States": states}


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run(sfn: Any, script: dict[str, str]) -> tuple[str, Counter[str]]:
    """The outcome the run records and how often each human Task (its stub) was entered."""
    arn = sfn.create_state_machine(name=f"returns-{next(_names)}", definition=json.dumps(stubbed(DEFINITION)),
                                   roleArn=ROLE)["stateMachineArn"]
    start = {"approval_id": "a", "tenant": "t", "requester": "ann", "input": {}, "script": script, "returned": None}
    before = set(threading.enumerate())
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(start))["executionArn"]
    deadline = time.monotonic() + 20
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.01)
    assert described["status"] in ("SUCCEEDED", "FAILED"), described
    for thread in set(threading.enumerate()) - before:  # a cancelled branch's thread ends with an
        if thread.name.startswith("BranchWorker"):  # exception: here, not in a later test
            thread.join(timeout=1)
    history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    entered = Counter(e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e)
    humans = Counter({n: c for n, c in entered.items() if n.endswith(("approval", "resubmission"))})
    outcome = json.loads(described.get("output") or "{}").get("outcome") or described.get("error", "?")
    return outcome, humans


@pytest.mark.parametrize(
    ("script", "outcome", "entered"),
    [
        ({}, "approved", {"First approval": 1, "Left approval": 1, "Left 2 approval": 1, "Deep approval": 1,
                          "Last approval": 1}),
        # within a branch
        ({"left_2": "Approval.Returned.left"}, "approved",
         {"First approval": 1, "Left approval": 2, "Left 2 approval": 2, "Deep approval": 1, "Last approval": 1}),
        # out of a branch, and out of a branch of a branch, to the step before the Parallel (the other
        # branch is cancelled wherever it was: its counts are not checked)
        ({"left_2": "Approval.Returned.first"}, "approved",
         {"First approval": 2, "Left approval": 2, "Left 2 approval": 2, "Last approval": 1}),
        ({"deep": "Approval.Returned.first"}, "approved",
         {"First approval": 2, "Deep approval": 2, "Last approval": 1}),
        # to the requester, whose resubmission starts the run over
        ({"last": "Approval.Returned.requester"}, "approved",
         {"First approval": 2, "Left approval": 2, "Left 2 approval": 2, "Deep approval": 2, "Last approval": 2,
          "Wait for resubmission": 1}),
        # what is not a return still goes where it went: out of both Parallels to the outcome
        ({"deep": "Approval.Rejected"}, "rejected", {"First approval": 1, "Deep approval": 1, "Last approval": 0}),
        ({"left": "Approval.Withdrawn"}, "withdrawn", {"Left approval": 1, "Left 2 approval": 0}),
        ({"last": "Approval.Rejected"}, "rejected", {"Last approval": 1}),
        # any other error (a step whose retries are spent) ends the run `failed` through Finish, the
        # error kept as its reason; in a branch it ends the Parallel, whose last catcher does the same
        ({"last": "Lambda.Unknown"}, "Approval.Failed", {"Last approval": 1}),
        ({"left": "Lambda.Unknown"}, "Approval.Failed", {"Left 2 approval": 0, "Last approval": 0}),
    ],
    ids=["none", "in-branch", "out-of-branch", "out-of-two-branches", "requester", "reject-deep",
         "withdraw-in-branch", "reject", "uncaught", "uncaught-in-branch"],
)
def test_a_scripted_run_goes_where_the_decisions_send_it(
    sfn: Any, script: dict[str, str], outcome: str, entered: dict[str, int]
) -> None:
    got, humans = run(sfn, script)
    assert got == outcome
    assert {name: humans[name] for name in entered} == entered
