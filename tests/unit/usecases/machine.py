"""The state machine's side, played by hand from the compiled ASL (statemachines/<machine>.asl.json).

`Run(rt, approval_id)` is one execution: its state (`$`) starts as the input the start recorded in
MemoryWorkflows. `run.open("Manager approval")` enters that waitForTaskToken Task: a token of our
choosing is handed to MemoryWorkflows as waited on and OpenStepFunction is called with the Task's
Payload as the ASL builds it (`.$` paths resolved against `$`, `$$.Task.Token` the token).
`run.resume(name, token)` takes the completion MemoryWorkflows recorded for the token and returns
the state the machine would go to next (its `Next`, or the `Catch` matching the error, with its
ResultPath applied); `run.finish("rejected")` goes through that outcome's Pass state and calls
FinishFunction with the `Record outcome` Payload. Choice states are not evaluated: tests know the path.
"""

from __future__ import annotations

import copy
import json
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from approvals.commands.start import start_approval
from approvals.machine.finish import finish
from approvals.machine.notify import notify
from approvals.machine.open_step import open_step
from approvals.machine.step_timed_out import step_timed_out
from tests.fakes import Completion, MemoryRuntime

ROOT = Path(__file__).resolve().parents[3]
STATEMACHINES = ROOT / "statemachines"
DIRECTORY: dict[str, Any] = yaml.safe_load((ROOT / "flows" / "directory.yaml").read_text(encoding="utf-8"))
TENANT = "acme"
# A Tuesday morning, before bob's delegation to dave (2026-12-20 .. 2027-01-05).
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@cache
def _asl(state_machine: str) -> str:
    return (STATEMACHINES / f"{state_machine}.asl.json").read_text(encoding="utf-8")


ENTERED_AT = "2026-12-01T09:00:00.000Z"


def _states(states: Mapping[str, Any], parent: str | None = None) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """Every state, those in Parallel branches included, with the Parallel it is in."""
    for name, state in states.items():
        yield name, state, parent
        for branch in state.get("Branches") or ():
            yield from _states(branch["States"], name)


def _path(expr: str, state: Mapping[str, Any], token: str | None) -> Any:
    if expr == "$$.Task.Token":
        assert token is not None, "only a waitForTaskToken Task has a token"
        return token
    if expr == "$$.State.EnteredTime":
        return ENTERED_AT  # Run.open gives each entry its own
    if expr == "$":
        return copy.deepcopy(state)
    if expr.startswith("States."):
        return _intrinsic(expr, state, token)
    assert expr.startswith("$."), f"unsupported path {expr!r}"
    value: Any = state
    for part in expr[2:].split("."):
        value = value[part]
    return copy.deepcopy(value)


def _intrinsic(expr: str, state: Mapping[str, Any], token: str | None) -> Any:
    """The intrinsic functions the compiler writes: States.ArrayGetItem, States.ArrayPartition,
    States.JsonToString, their arguments paths or integers."""
    name, _, rest = expr.partition("(")
    assert rest.endswith(")"), expr
    args, depth, current = [], 0, ""
    for char in rest[:-1]:
        if char == "," and depth == 0:
            args.append(current.strip())
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    args.append(current.strip())
    values = [int(a) if a.lstrip("-").isdigit() else _path(a, state, token) for a in args]
    if name == "States.ArrayPartition":
        items, size = values
        return [items[i:i + size] for i in range(0, len(items), size)]
    if name == "States.ArrayGetItem":
        return values[0][values[1]]
    if name == "States.JsonToString":
        return json.dumps(values[0], separators=(",", ":"))
    raise AssertionError(f"unsupported intrinsic {name}")


def _resolve(template: Any, state: Mapping[str, Any], token: str | None) -> Any:
    if isinstance(template, Mapping):
        return {(k[:-2] if k.endswith(".$") else k): (_path(v, state, token) if k.endswith(".$")
                                                       else _resolve(v, state, token))
                for k, v in template.items()}
    if isinstance(template, list):
        return [_resolve(v, state, token) for v in template]
    return template


def _set(state: dict[str, Any], result_path: str | None, value: Any) -> None:
    if result_path is None:
        return  # ResultPath: null keeps the state as it was
    assert result_path.startswith("$."), result_path
    *parents, last = result_path[2:].split(".")
    for part in parents:
        state = state.setdefault(part, {})
    state[last] = value


def task_event(function: Callable[..., Any], payload: Mapping[str, Any]) -> Any:
    """The Payload as `function` takes its event: parsed by the model it is annotated with (the
    handler's event_parser does that), or the plain mapping a Lambda gets."""
    hint = typing.get_type_hints(function).get("event")
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint.model_validate(payload)
    return payload


def begin(rt: MemoryRuntime, flow: str, requester: str, data: Mapping[str, Any], approval_id: str | None = None) -> Run:
    """Start an approval of `flow` (its latest version) through the start use case; its Run."""
    return Run(rt, start_approval(TENANT, flow, None, requester, data, approval_id=approval_id, rt=rt))


class Run:
    def __init__(self, rt: MemoryRuntime, approval_id: str) -> None:
        self.rt = rt
        self.id = self.approval_id = approval_id
        execution = rt.sfn.execution(approval_id)
        self.state: dict[str, Any] = copy.deepcopy(execution.payload)
        found = list(_states(json.loads(_asl(execution.state_machine))["States"]))
        self.states = {name: state for name, state, _ in found}
        self.parents = {name: parent for name, _, parent in found if parent is not None}
        self.opened: list[dict[str, Any]] = []  # what OpenStepFunction returned, in order
        self._tokens = 0
        self.start = self._through_passes(str(json.loads(_asl(execution.state_machine))["StartAt"]))

    def _through_passes(self, name: str) -> str:
        """Run the Pass states from `name` on (the return targets a machine sets first), and the
        return router (a Choice on `$.returned.Error`): the first state a test drives."""
        while True:
            state = self.states[name]
            if state["Type"] == "Pass" and state.get("ResultPath") == "$.return_targets":
                _set(self.state, state.get("ResultPath", "$"), copy.deepcopy(state["Result"]))
                name = str(state["Next"])
            elif state["Type"] == "Choice" and state["Choices"] and all(
                    rule.get("Variable") == "$.returned.Error" for rule in state["Choices"]):
                error = self.state["returned"]["Error"]
                name = next((str(r["Next"]) for r in state["Choices"] if r.get("StringEquals") == error),
                            str(state["Default"]))
            else:
                return name

    def payload(self, name: str, token: str | None = None) -> dict[str, Any]:
        task = self.states[name]
        assert task["Type"] == "Task", f"{name} is a {task['Type']}"
        payload: dict[str, Any] = _resolve(task["Parameters"]["Payload"], self.state, token)
        return payload

    def new_token(self, name: str) -> str:
        """A task token of our choosing (Step Functions' are opaque base64 strings of ~700 bytes)."""
        self._tokens += 1
        return f"AQB8AAAAKgAAAAMAAAAA{self.approval_id}/{name.replace(' ', '-')}/{self._tokens}=="

    def open(self, name: str) -> str:
        """Enter the waitForTaskToken Task `name`: its token is waited on, OpenStepFunction called."""
        assert self.states[name]["Resource"].endswith(".waitForTaskToken"), name
        token = self.rt.sfn.wait_on(self.new_token(name))
        # Each entry of a Task has its own $$.State.EnteredTime (a retried invoke would share it).
        payload = {**self.payload(name, token), "entered_at": f"2026-12-01T09:00:00.{self._tokens:03d}Z"}
        self.opened.append(open_step(task_event(open_step, payload), rt=self.rt))
        return token

    def completion(self, token: str) -> Completion:
        (done,) = self.rt.sfn.completions_of(token)
        return done

    def resume(self, name: str, token: str) -> str:
        """The state after Task `name`, from how its token was completed (exactly once): its Next
        (None at the end of a Parallel branch), or the Catch of the error, in the Task or else in
        the Parallel around it."""
        task, done = self.states[name], self.completion(token)
        if done.succeeded:
            _set(self.state, task.get("ResultPath", "$"), done.output)
            return str(task.get("Next"))
        where: str | None = name
        while where is not None:
            for catch in self.states[where].get("Catch") or ():
                if done.error in catch["ErrorEquals"] or "States.ALL" in catch["ErrorEquals"]:
                    _set(self.state, catch.get("ResultPath", "$"), {"Error": done.error, "Cause": done.cause})
                    return self._through_passes(str(catch["Next"]))
            where = self.parents.get(where)
        raise AssertionError(f"nothing catches {done.error} from {name}: the execution would fail")

    def time_out(self, name: str, token: str) -> str:
        """Task `name`'s timeout passed (States.Timeout): where its Catch goes; a `... timed out` Task
        is run (StepTimedOutFunction) and its Next returned."""
        self.rt.sfn.time_out(token)
        task = self.states[name]
        (catch,) = [c for c in task.get("Catch") or () if "States.Timeout" in c["ErrorEquals"]]
        _set(self.state, catch.get("ResultPath", "$"), {"Error": "States.Timeout", "Cause": ""})
        target = str(catch["Next"])
        if target.endswith(" timed out"):
            step_timed_out(task_event(step_timed_out, self.payload(target)), rt=self.rt)
            return str(self.states[target]["Next"])
        return target

    def notify(self, name: str) -> str:
        """Run the NotifyFunction Task `name`; its Next."""
        notify(task_event(notify, self.payload(name)), rt=self.rt)
        return str(self.states[name]["Next"])

    def action(self, name: str, result: Any = None, error: str | None = None) -> str:
        """The action Task `name` (the flow author's function) returned `result`, or failed with
        `error`: its ResultSelector/ResultPath or its Catch applied, the state it goes to."""
        task = self.states[name]
        if error is None:
            selected = _resolve(task.get("ResultSelector", {"value.$": "$"}), {"Payload": result}, None)
            _set(self.state, task["ResultPath"], selected)
            return str(task["Next"])
        (catch,) = [c for c in task["Catch"] if error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"]]
        _set(self.state, catch["ResultPath"], {"Error": error, "Cause": f"{name} failed"})
        return str(catch["Next"])

    def finish(self, outcome: str) -> dict[str, Any]:
        """The outcome's Pass state (Approved, Rejected, Withdrawn, Failed), then FinishFunction."""
        passed = self.states[outcome.capitalize()]
        assert passed["Type"] == "Pass"
        _set(self.state, passed["ResultPath"], passed["Result"])
        result: dict[str, Any] = finish(task_event(finish, self.payload("Record outcome")), rt=self.rt)
        return result
