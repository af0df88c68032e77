"""Stage 4: IR -> Amazon States Language (JSONPath), one function per IR node kind.

Shape (see docs/state-machine-contract.md and architecture.md): one waitForTaskToken Task per
human stage; reject/return/withdraw arrive as error names routed by `Catch`; an error whose
target lies outside a Parallel branch is left uncaught there and caught on the Parallel. Returns
go through one catcher per stage and a router per scope (emit_returns.py), the end of the run
is emit_end.py's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from approvals.contract.names import ApprovalError, result_key

from . import emit_returns as returns
from .asl import (
    ACTION_FAILED,
    LAMBDA_CRASHED,
    LAMBDA_TRANSIENT,
    NOTIFY,
    OPEN_STEP,
    ROOT,
    RUNTIME_ERROR,
    TIMED_OUT,
    State,
    arn,
    humanize,
    map_input,
)
from .choice import to_choice_rule
from .conditions import Expr
from .definition import MAX_STATE_NAME
from .emit_end import outcome_tail
from .ir import (
    RUNTIME_RETRY_ATTEMPTS,
    ActionNode,
    ApprovalNode,
    BranchNode,
    FlowIR,
    IRNode,
    NotifyNode,
    OutcomeActionNode,
    ParallelNode,
    Sequence,
    Stage,
    WaitNode,
)
from .paths import input_path


def fit_state_name(name: str) -> str:
    """`name`, or when too long its start and end around a hash of the whole: short, stable, distinct."""
    if len(name) <= MAX_STATE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:50].rstrip()}...{name[-19:].lstrip()} #{digest}"


# What a Parallel branch starts from: the run's context, the input its Choice rules and Tasks read,
# and empty `actions` and `parallel` so that every branch's end has both (BRANCH_RESULT); the kept
# return lists are added once the machine is emitted (emit()), if any.
BRANCH_INPUT: dict[str, Any] = {
    "approval_id.$": "$.approval_id", "tenant.$": "$.tenant", "requester.$": "$.requester", "input.$": "$.input",
    "actions": {}, "parallel": {},
}
# The Parallel's result: branch i's actions at `actions[i]`, its own parallels' at `parallel[i]`.
BRANCH_RESULT = {"actions.$": "$[*].actions", "parallel.$": "$[*].parallel"}


@dataclass
class _Scope:
    states: dict[str, State] = field(default_factory=dict)
    label: str = ""
    # Where this scope's `actions` and `parallel` land in the root state once its Parallel is done.
    actions_at: str = "$.actions"
    parallel_at: str = "$.parallel"
    escapes: dict[str, tuple[str, int, str | None]] = field(default_factory=dict)
    terminal: str | None = None
    parent: int | None = None  # the scope of the Parallel this branch is in
    # Returns (emit_returns.py): the router's name, error name -> the state it goes to, and whether
    # returns to steps outside leave this scope.
    router: str | None = None
    returns: dict[str, str] = field(default_factory=dict)
    returns_out: bool = False


class Emitter:
    def __init__(self, ir: FlowIR) -> None:
        self.ir = ir
        self.used: set[str] = set()
        self.entry: dict[str, str] = {}
        self.task: dict[str, str] = {}
        self.scopes: dict[int, _Scope] = {ROOT: _Scope()}
        self.functions: set[str] = set()
        self.compensations: list[tuple[ActionNode, str]] = []  # (action, root path of its result)
        self.return_lists: list[list[str]] = []  # emit_returns.return_to_param
        self.outcome = {o: self.unique(o.capitalize()) for o in ("approved", "rejected", "withdrawn", "failed")}
        self.resubmit = self.unique("Wait for resubmission")
        self.record = self.unique("Record outcome")
        self.record_failure = self.unique("Record failure")
        self._name_all(ir.steps)

    # --- names ------------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        candidate, n = fit_state_name(name), 2
        while candidate in self.used:
            candidate, n = fit_state_name(f"{name} ({n})"), n + 1
        self.used.add(candidate)
        return candidate

    def _name_all(self, seq: Sequence) -> None:
        # Names are fixed up front, in document order, so that returns can point backwards and
        # the output stays the same from run to run.
        for node in seq:
            human = humanize(node.id)
            when = self.unique(f"{human} needed?") if node.when is not None else None
            if isinstance(node, ApprovalNode):
                body = self.task[node.id] = self.unique(f"{human} approval")
            else:
                body = self.unique(human)
            self.entry[node.id] = when or body
            self.task.setdefault(node.id, body)
            if isinstance(node, BranchNode):
                for _, case in node.cases:
                    self._name_all(case)
                self._name_all(node.default)
            elif isinstance(node, ParallelNode):
                for branch in node.branches:
                    self._name_all(branch)

    # --- plumbing ---------------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        return {
            "approval_id.$": "$.approval_id",
            "tenant.$": "$.tenant",
            "flow": self.ir.flow,
            "flow_version": self.ir.version,
            "requester.$": "$.requester",
        }

    def invoke(self, function: str, payload: dict[str, Any], token: bool = False) -> State:
        self.functions.add(function)
        resource = "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if token else "")
        return {"Type": "Task", "Resource": resource, "Parameters": {"FunctionName": arn(function), "Payload": payload}}

    def add(self, scope: int, name: str, state: State, next_name: str | None) -> None:
        if state["Type"] not in ("Choice", "Succeed", "Fail"):
            if next_name is None:
                state["End"] = True
            else:
                state["Next"] = next_name
        self.scopes[scope].states[name] = state

    def target(self, scope: int, next_name: str | None) -> str:
        """Where a Choice goes when the sequence is over: the next state, or a branch's end."""
        if next_name is not None:
            return next_name
        sc = self.scopes[scope]
        if sc.terminal is None:
            sc.terminal = self.unique(f"{sc.label} done")
            sc.states[sc.terminal] = {"Type": "Succeed"}
        return sc.terminal

    def catch(self, scope: int, error: str, target: str, target_scope: int, result_path: str | None) -> list[State]:
        """A catcher when `target` is in this scope; else the error escapes to the enclosing Parallel."""
        if target_scope == scope:
            return [{"ErrorEquals": [error], "ResultPath": result_path, "Next": target}]
        self.scopes[scope].escapes.setdefault(error, (target, target_scope, result_path))
        return []

    def raise_outcome(self, scope: int, outcome: str) -> str:
        """The state that ends the run with `outcome`, reachable from this scope."""
        if scope == ROOT:
            return self.outcome[outcome]
        name = self.unique(f"{self.scopes[scope].label} {outcome}")
        error = {"rejected": ApprovalError.REJECTED, "withdrawn": ApprovalError.WITHDRAWN}[outcome].value
        self.scopes[scope].states[name] = {"Type": "Fail", "Error": error, "Cause": f"the step was {outcome}"}
        self.catch(scope, error, self.outcome[outcome], ROOT, "$.error")
        return name

    def fails(self, scope: int) -> list[State]:
        """A runtime Task's last catcher: whatever its retries did not mend ends the run `failed`
        through Finish (compensations, the reason, the archive), not in an execution nobody settles."""
        return self.catch(scope, "States.ALL", self.outcome["failed"], ROOT, RUNTIME_ERROR)

    def guard(self, node: IRNode, scope: int, body: str, next_name: str | None) -> None:
        if node.when is None:
            return
        self.add_choice(scope, self.entry[node.id], [(node.when, body)], self.target(scope, next_name))

    def add_choice(self, scope: int, name: str, rules: list[tuple[Expr, str]], default: str) -> None:
        choices = [{**to_choice_rule(expr), "Next": target} for expr, target in rules]
        self.scopes[scope].states[name] = {"Type": "Choice", "Choices": choices, "Default": default}

    # --- sequences and nodes ----------------------------------------------------------------

    def sequence(self, seq: Sequence, scope: int, next_name: str | None) -> str | None:
        """Emit `seq` so that it continues at `next_name`; return its first state (None if empty)."""
        for i, node in enumerate(seq):
            after = self.entry[seq[i + 1].id] if i + 1 < len(seq) else next_name
            self.node(node, scope, after)
        return self.entry[seq[0].id] if seq else next_name

    def node(self, node: IRNode, scope: int, next_name: str | None) -> None:
        body = self.task[node.id]
        self.guard(node, scope, body, next_name)
        if isinstance(node, ApprovalNode):
            self.approval(node, scope, body, next_name)
        elif isinstance(node, ActionNode):
            self.action(node, scope, body, next_name)
        elif isinstance(node, NotifyNode):
            self.notify(node, scope, body, next_name)
        elif isinstance(node, WaitNode):
            self.wait(node, scope, body, next_name)
        elif isinstance(node, BranchNode):
            self.branch(node, scope, body, next_name)
        else:
            self.parallel(node, scope, body, next_name)

    def approval(self, node: ApprovalNode, scope: int, name: str, next_name: str | None) -> None:
        """The step's Task, then each escalation's Task, then what a timeout records."""
        stage: Stage | None = node.stage
        human = humanize(node.id)
        while stage is not None:
            state = self.invoke(OPEN_STEP, self.open_payload(node, stage), token=True)
            state["ResultPath"] = None
            if stage.timeout_seconds is not None:
                state["TimeoutSeconds"] = stage.timeout_seconds
            state["Retry"] = self.runtime_retry()
            then = stage.on_timeout
            after_timeout: State | None = None
            if isinstance(then, Stage):
                label = "escalation" if then.index == 1 else f"escalation {then.index}"
                timeout_target = self.unique(f"{human} {label}")
            elif then is not None:
                timeout_target = self.unique(f"{human} {'approval' if stage.index == 0 else 'escalation'} timed out")
                after_timeout = self.invoke(TIMED_OUT, self.timed_out_payload(node, stage, then))
                after_timeout["ResultPath"] = None
                after_timeout["Retry"] = self.runtime_retry()
            catchers = self.catch(scope, "States.Timeout", timeout_target, scope, "$.error") if then else []
            state["Catch"] = catchers + self.decision_catchers(node, scope)
            if after_timeout is not None:
                after_timeout["Catch"] = self.fails(scope)
            self.add(scope, name, state, next_name)
            if after_timeout is not None:
                outcome_next = next_name if then == "approve" else self.raise_outcome(scope, "rejected")
                self.add(scope, timeout_target, after_timeout, outcome_next)
            if isinstance(then, Stage):
                name = timeout_target
            stage = then if isinstance(then, Stage) else None

    def decision_catchers(self, node: ApprovalNode, scope: int) -> list[State]:
        catchers = self.catch(scope, ApprovalError.REJECTED.value, self.outcome["rejected"], ROOT, "$.error")
        catchers += self.catch(scope, ApprovalError.WITHDRAWN.value, self.outcome["withdrawn"], ROOT, "$.error")
        if node.return_to:  # one catcher whatever the targets, the last: `States.ALL` (its router fails the rest)
            catchers.append(returns.stage_catcher(self, scope, node.return_to))
            if scope != ROOT:
                self.fails(scope)  # what the branch's router raises again: the Parallel's last catcher
        else:
            catchers += self.fails(scope)
        return catchers

    def open_payload(self, node: ApprovalNode, stage: Stage) -> dict[str, Any]:
        settings = {k: v for k, v in self.ir.settings.items() if k in ("auto_approve", "if_no_approvers")}
        return {
            "task_token.$": "$$.Task.Token",
            "entered_at.$": "$$.State.EnteredTime",  # the same on a retried invoke, whose token is new
            **self.context(),  # no input: the handler reads the approval's from the table
            "kind": "approval",
            "step": node.id,
            "stage": stage.index,
            "spec": {
                "title": node.title or humanize(node.id),
                "approvers": list(stage.approvers),
                "mode": stage.mode,
                "timeout_seconds": stage.timeout_seconds,
                "remind_seconds": list(node.remind_seconds),
                "allow": list(node.allow),
                **({"return_to.$": returns.return_to_param(self, node.return_to)} if node.return_to
                   else {"return_to": []}),
            },
            "settings": settings,
        }

    def timed_out_payload(self, node: ApprovalNode, stage: Stage, then: str) -> dict[str, Any]:
        outcome = "approved" if then == "approve" else "rejected"
        return {**self.context(), "step": node.id, "stage": stage.index, "outcome": outcome}

    def transient_retry(self) -> State:
        """Lambda's service errors, as AWS recommends for every Lambda Task."""
        return {
            "ErrorEquals": list(LAMBDA_TRANSIENT),
            "IntervalSeconds": 1,
            "MaxAttempts": RUNTIME_RETRY_ATTEMPTS,
            "BackoffRate": 2.0,
        }

    def runtime_retry(self) -> list[State]:
        """A runtime Task's retriers: Lambda's service errors, then a crash of the handler (which is
        idempotent at every boundary, so the next attempt finishes what the dead one began)."""
        crashed = {"ErrorEquals": [LAMBDA_CRASHED], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0}
        return [self.transient_retry(), crashed]

    def action_state(self, node: OutcomeActionNode, step: str) -> State:
        payload = {**self.context(), "step": step, **map_input(node.input)}
        state = self.invoke(node.function, payload)
        state["ResultSelector"] = {"value.$": "$.Payload"}
        if node.timeout_seconds is not None:
            state["TimeoutSeconds"] = node.timeout_seconds
        if node.attempts > 1:
            # Lambda's service errors first, with their own count: they are not the action failing.
            retry = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": node.interval_seconds}
            flows = {**retry, "MaxAttempts": node.attempts - 1, "BackoffRate": node.backoff}
            state["Retry"] = [self.transient_retry(), flows]
        else:
            state["Retry"] = [self.transient_retry()]
        return state

    def action(self, node: ActionNode, scope: int, name: str, next_name: str | None) -> None:
        key = result_key(node.id)
        state = self.action_state(node, node.id)
        state["ResultPath"] = f"$.actions.{key}"
        state["Catch"] = self.catch(scope, "States.ALL", self.outcome["failed"], ROOT, f"$.failures.{key}")
        if scope != ROOT:
            # The Parallel records an escaping error under its own id: the error names the action,
            # its cause carries the original (docs/state-machine-contract.md, `parallel`).
            failed = self.unique(f"{name} failed")
            self.scopes[scope].states[failed] = {
                "Type": "Fail", "Error": f"{ACTION_FAILED}{key}", "CausePath": f"States.JsonToString($.failures.{key})"}
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.failures.{key}", "Next": failed}]
        self.add(scope, name, state, next_name)
        if node.compensate:
            self.compensations.append((node, f"{self.scopes[scope].actions_at}.{key}"))

    def notify(self, node: NotifyNode, scope: int, name: str, next_name: str | None) -> None:
        payload = {**self.context(), "step": node.id, "to": list(node.to), "message": node.message or "",
                   "entered_at.$": "$$.State.EnteredTime"}  # the same on a retried invoke
        state = self.invoke(NOTIFY, payload)
        state["ResultPath"] = None
        state["Retry"] = self.runtime_retry()
        state["Catch"] = self.fails(scope)
        self.add(scope, name, state, next_name)

    def wait(self, node: WaitNode, scope: int, name: str, next_name: str | None) -> None:
        state: State = {"Type": "Wait"}
        if node.until_field is None:
            state["Seconds"] = node.seconds
        else:
            state["TimestampPath"] = input_path([node.until_field])
        self.add(scope, name, state, next_name)

    def branch(self, node: BranchNode, scope: int, name: str, next_name: str | None) -> None:
        def start(seq: Sequence) -> str:
            return self.target(scope, self.entry[seq[0].id] if seq else next_name)

        # The Choice first, so the file reads in the order a run goes.
        self.add_choice(scope, name, [(expr, start(case)) for expr, case in node.cases], start(node.default))
        for _, case in node.cases:
            self.sequence(case, scope, next_name)
        self.sequence(node.default, scope, next_name)

    def parallel(self, node: ParallelNode, scope: int, name: str, next_name: str | None) -> None:
        key = result_key(node.id)
        branches = []
        escapes: dict[str, tuple[str, int, str | None]] = {}
        for b, (seq, inner) in enumerate(zip(node.branches, node.branch_scopes, strict=True)):
            at = f"{self.scopes[scope].parallel_at}.{key}"
            self.scopes[inner] = _Scope(label=f"{humanize(node.id)} branch {b + 1}", actions_at=f"{at}.actions[{b}]",
                                        parallel_at=f"{at}.parallel[{b}]", parent=scope)
            start = self.sequence(seq, inner, None)
            returns.close(self, inner)
            branches.append({"StartAt": self.target(inner, start), "States": self.scopes[inner].states})
            for error, route in self.scopes[inner].escapes.items():
                escapes.setdefault(error, route)
        catchers: list[State] = []
        for error in sorted(e for e in escapes if e != "States.ALL"):
            catchers += self.catch(scope, error, *escapes[error])
        returning = returns.parallel_catcher(self, scope, name, node.branch_scopes)
        if returning:
            catchers.append(returning.pop("catcher"))
        if "States.ALL" in escapes:  # an action failed in a branch; it must be the last catcher
            target, target_scope, _ = escapes["States.ALL"]
            catchers += self.catch(scope, "States.ALL", target, target_scope, f"$.failures.{key}")
        # Each branch starts from what its states read, not a copy of the whole state, and only what
        # Finish reads of its end is kept: N copies of the input would pass 256 KiB (States.DataLimitExceeded).
        state: State = {"Type": "Parallel", "Parameters": {**BRANCH_INPUT}, "Branches": branches,
                        "ResultSelector": dict(BRANCH_RESULT), "ResultPath": f"$.parallel.{key}"}
        if catchers:
            state["Catch"] = catchers
        self.add(scope, name, state, next_name)
        self.scopes[scope].states.update(returning)  # the Pass after the Parallel it belongs to


def _parallels(states: Mapping[str, State]) -> Iterator[State]:
    for state in states.values():
        if state["Type"] == "Parallel":
            yield state
            for branch in state["Branches"]:
                yield from _parallels(branch["States"])


@dataclass(frozen=True)
class Emitted:
    definition: dict[str, Any]
    functions: tuple[str, ...]


def emit(ir: FlowIR) -> Emitted:
    em = Emitter(ir)
    start = em.sequence(ir.steps, ROOT, em.outcome["approved"])
    assert start is not None  # a flow has at least one step
    returns.close(em, ROOT)
    outcome_tail(em, start)
    root = em.scopes[ROOT].states
    ordered = {start: root[start]} | {k: v for k, v in root.items() if k != start}
    kept = returns.targets_state(em, start)
    if kept:
        for state in _parallels(root):  # branches read the kept return lists too
            state["Parameters"]["return_targets.$"] = returns.TARGETS
        ordered = kept | ordered
        start = next(iter(kept))
    comment = f"{ir.title or ir.flow}: flow {ir.flow} version {ir.version}, compiled by dsl_compiler"
    definition = {"Comment": comment, "StartAt": start, "States": ordered}
    return Emitted(definition, tuple(sorted(em.functions)))
