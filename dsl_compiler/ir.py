"""Stage 3: the intermediate representation: steps with every default applied and every
reference resolved (durations in seconds, modes, escalation stages, return targets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from approvals.contract.names import RESUBMIT_STEP as RESUBMIT_STEP_ID
from approvals.contract.names import machine_name, result_key

from .conditions import Expr
from .durations import parse_duration
from .loader import Path
from .model import (
    ActionStep,
    ApprovalStep,
    BranchStep,
    Escalation,
    FlowSpec,
    ManagerChainSpec,
    NotifyStep,
    OutcomeAction,
    OutcomeNotify,
    OutcomeRun,
    ParallelStep,
    UsersSpec,
    WaitStep,
)
from .validate import ValidatedFlow

Json = Any
Outcome = Literal["approved", "rejected", "withdrawn"]
RESUBMIT = RESUBMIT_STEP_ID
# The requester gets this long to resubmit after a return, then the approval counts as withdrawn.
RESUBMIT_TIMEOUT = 30 * 86400
RUNTIME_RETRY_ATTEMPTS = 3


@dataclass(frozen=True)
class Stage:
    """One human Task: the step itself (stage 0) or one of its escalations."""

    index: int
    approvers: tuple[Json, ...]
    mode: Json
    timeout_seconds: int | None
    on_timeout: Literal["approve", "reject"] | Stage | None


@dataclass(frozen=True)
class ApprovalNode:
    id: str
    title: str | None
    when: Expr | None
    stage: Stage
    remind_seconds: tuple[int, ...]
    allow: tuple[str, ...]
    return_to: tuple[str, ...]
    scope: int


@dataclass(frozen=True)
class OutcomeActionNode:
    """A function call with its retry policy (an action step, or an action run at an outcome)."""

    function: str
    input: dict[str, Json] | None
    attempts: int
    interval_seconds: int
    backoff: float
    timeout_seconds: int | None


@dataclass(frozen=True)
class ActionNode(OutcomeActionNode):
    id: str
    title: str | None
    when: Expr | None
    compensate: str | None
    scope: int


@dataclass(frozen=True)
class NotifyNode:
    id: str
    title: str | None
    when: Expr | None
    to: tuple[Json, ...]
    message: str | None


@dataclass(frozen=True)
class WaitNode:
    id: str
    title: str | None
    when: Expr | None
    seconds: int | None
    until_field: str | None


@dataclass(frozen=True)
class BranchNode:
    id: str
    title: str | None
    when: Expr | None
    cases: tuple[tuple[Expr, Sequence], ...]
    default: Sequence


@dataclass(frozen=True)
class ParallelNode:
    id: str
    title: str | None
    when: Expr | None
    branches: tuple[Sequence, ...]
    scope: int
    branch_scopes: tuple[int, ...]


IRNode = ApprovalNode | ActionNode | NotifyNode | WaitNode | BranchNode | ParallelNode
Sequence = tuple[IRNode, ...]


@dataclass(frozen=True)
class FlowIR:
    flow: str
    version: int
    title: str | None
    steps: Sequence
    step_ids: tuple[str, ...]
    cc: tuple[Json, ...]
    notify: dict[str, tuple[Json, ...]]
    # The `message` of an outcome's `notify` items (those that give one, in order, each once, a line
    # each), for the outcomes that have one.
    notify_messages: dict[str, str]
    on_actions: dict[str, tuple[OutcomeActionNode, ...]]
    settings: Json
    input_fields: dict[str, Json]
    scopes_of: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return machine_name(self.flow, self.version)

    def walk(self) -> list[IRNode]:
        return list(_walk(self.steps))

    @property
    def needs_resubmission(self) -> bool:
        return any(isinstance(n, ApprovalNode) and RESUBMIT in n.return_to for n in self.walk())


def _walk(seq: Sequence) -> Any:
    for node in seq:
        yield node
        if isinstance(node, BranchNode):
            for _, case in node.cases:
                yield from _walk(case)
            yield from _walk(node.default)
        elif isinstance(node, ParallelNode):
            for branch in node.branches:
                yield from _walk(branch)


def _returnable(seq: Sequence) -> Any:
    """The ids of the approvals of `seq` and of its branches' cases, not of its parallels' branches."""
    for node in seq:
        if isinstance(node, ApprovalNode):
            yield node.id
        elif isinstance(node, BranchNode):
            for _, case in node.cases:
                yield from _returnable(case)
            yield from _returnable(node.default)


def _json(spec: Any) -> Json:
    return spec.model_dump(mode="json", exclude_none=True)


def default_mode(approvers: list[Any]) -> Json:
    """`all` for a list of several named users, `sequential` for a manager chain, else `any`."""
    if any(isinstance(a, ManagerChainSpec) for a in approvers):
        return "sequential"
    if all(isinstance(a, UsersSpec) for a in approvers) and len({u for a in approvers for u in a.users}) > 1:
        return "all"
    return "any"


def _seconds(text: str | None) -> int | None:
    return None if text in (None, "none") else parse_duration(text or "")


class _Builder:
    def __init__(self, flow: ValidatedFlow) -> None:
        self.flow = flow
        self.next_scope = 1
        self.scopes_of: dict[str, int] = {}

    def stage(self, index: int, approvers: list[Any], mode: Json, timeout: int | None, on_timeout: Any) -> Stage:
        then: Literal["approve", "reject"] | Stage | None
        if isinstance(on_timeout, Escalation):
            # An escalation keeps the mode; its timeout defaults to the step's, and it is rejected
            # when that runs out too, so that nothing waits forever by accident.
            esc_timeout = timeout if on_timeout.timeout is None else _seconds(on_timeout.timeout)
            esc_then = on_timeout.on_timeout if on_timeout.on_timeout is not None else "reject"
            then = self.stage(index + 1, [on_timeout.escalate_to], mode, esc_timeout, esc_then if esc_timeout else None)
        else:
            then = on_timeout
        return Stage(index, tuple(_json(a) for a in approvers), mode, timeout, then)

    def sequence(self, steps: list[Any], path: Path, scope: int, earlier: tuple[str, ...]) -> Sequence:
        nodes: list[IRNode] = []
        visible = list(earlier)
        for i, step in enumerate(steps):
            here = (*path, i)
            when = self.flow.conditions.get((*here, "when"))
            self.scopes_of[step.id] = scope
            if isinstance(step, ApprovalStep):
                mode = _json_mode(step.mode) if step.mode is not None else default_mode(step.approvers)
                allow = tuple(step.allow or ())
                return_to = (*visible, RESUBMIT) if "return" in allow else ()
                stage = self.stage(0, step.approvers, mode, _seconds(step.timeout), step.on_timeout)
                nodes.append(
                    ApprovalNode(
                        step.id,
                        step.title,
                        when,
                        stage,
                        tuple(_seconds(r) or 0 for r in step.remind or ()),
                        allow,
                        return_to,
                        scope,
                    )
                )
                visible.append(step.id)
            elif isinstance(step, ActionStep):
                call = _call(step)
                nodes.append(
                    ActionNode(
                        **call.__dict__,
                        id=step.id,
                        title=step.title,
                        when=when,
                        compensate=step.compensate,
                        scope=scope,
                    )
                )
            elif isinstance(step, NotifyStep):
                nodes.append(NotifyNode(step.id, step.title, when, tuple(_json(a) for a in step.to), step.message))
            elif isinstance(step, WaitStep):
                until = step.until[2:] if step.until else None
                nodes.append(WaitNode(step.id, step.title, when, _seconds(step.duration), until))
            elif isinstance(step, BranchStep):
                cases = tuple(
                    (
                        self.flow.conditions[(*here, "cases", c, "when")],
                        self.sequence(case.steps, (*here, "cases", c, "steps"), scope, tuple(visible)),
                    )
                    for c, case in enumerate(step.cases)
                )
                default = self.sequence(step.default or [], (*here, "default"), scope, tuple(visible))
                nodes.append(BranchNode(step.id, step.title, when, cases, default))
                # A later step may return to any approval of any case (the runtime checks it ran),
                # but not to one inside a parallel in a case: as for any earlier parallel's.
                visible.extend(n for _, case in cases for n in _returnable(case))
                visible.extend(_returnable(default))
            elif isinstance(step, ParallelStep):
                branch_scopes = []
                branches = []
                for b, branch in enumerate(step.branches):
                    inner = self.next_scope
                    self.next_scope += 1
                    branch_scopes.append(inner)
                    branches.append(self.sequence(branch, (*here, "branches", b), inner, tuple(visible)))
                nodes.append(ParallelNode(step.id, step.title, when, tuple(branches), scope, tuple(branch_scopes)))
        return tuple(nodes)


def _call(spec: OutcomeAction) -> OutcomeActionNode:
    """The call and its retry policy; without `retry` a function is tried once."""
    retry = spec.retry
    return OutcomeActionNode(
        function=spec.function,
        input=spec.input,
        attempts=retry.attempts if retry else 1,
        interval_seconds=(_seconds(retry.interval) or 1) if retry else 1,
        backoff=retry.backoff if retry else 2.0,
        timeout_seconds=_seconds(spec.timeout),
    )


def _json_mode(mode: Any) -> Json:
    return mode if isinstance(mode, str) else _json(mode)


def _outcome_items(
    spec: FlowSpec, key: str
) -> tuple[tuple[Json, ...], str | None, tuple[OutcomeActionNode, ...]]:
    notify: list[Json] = []
    messages: list[str] = []
    actions: list[OutcomeActionNode] = []
    for item in getattr(spec, key) or []:
        if isinstance(item, OutcomeNotify):
            notify.extend(_json(a) for a in item.notify)
            if item.message and item.message not in messages:
                messages.append(item.message)
        elif isinstance(item, OutcomeRun):
            actions.append(_call(item.action))
    return tuple(notify), "\n".join(messages) or None, tuple(actions)


def build(flow: ValidatedFlow) -> FlowIR:
    spec = flow.spec
    builder = _Builder(flow)
    steps = builder.sequence(list(spec.steps), ("steps",), 0, ())
    notify: dict[str, tuple[Json, ...]] = {}
    notify_messages: dict[str, str] = {}
    on_actions: dict[str, tuple[OutcomeActionNode, ...]] = {}
    for outcome in ("approved", "rejected", "withdrawn"):
        notify[outcome], message, on_actions[outcome] = _outcome_items(spec, f"on_{outcome}")
        if message is not None:
            notify_messages[outcome] = message
    settings = _json(spec.settings) if spec.settings else {}
    return FlowIR(
        flow=spec.flow,
        version=spec.version,
        title=spec.title,
        steps=steps,
        step_ids=tuple(n.id for n in _walk(steps)),
        cc=tuple(_json(a) for a in spec.cc or ()),
        notify=notify,
        notify_messages=notify_messages,
        on_actions=on_actions,
        settings=settings,
        input_fields={name: _json(f) for name, f in (spec.input or {}).items()},
        scopes_of=builder.scopes_of,
    )


__all__ = ["FlowIR", "IRNode", "Stage", "build", "default_mode", "result_key"]
