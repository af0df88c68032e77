"""The IR as the contract's specs: the compiled flow the functions read from the manifest
(approvals.contract.manifest), with its conditions as trees (approvals.contract.conditions)."""

from __future__ import annotations

from typing import Any

from approvals.contract import conditions as tree
from approvals.contract.manifest import (
    ActionStepSpec,
    ApprovalStepSpec,
    BranchStepSpec,
    CallSpec,
    CaseSpec,
    NotifyStepSpec,
    OutcomeSpec,
    ParallelStepSpec,
    StageSpec,
    StepSpec,
    WaitStepSpec,
)
from approvals.contract.names import result_key

from . import conditions as cond
from .ir import (
    ActionNode,
    ApprovalNode,
    BranchNode,
    FlowIR,
    IRNode,
    NotifyNode,
    OutcomeActionNode,
    Sequence,
    Stage,
    WaitNode,
)


def _operand(operand: cond.Operand) -> tree.FieldRef | tree.Constant:
    if isinstance(operand, cond.Field):
        return tree.FieldRef(field=operand.path)
    return tree.Constant(value=operand.value)


def condition_tree(expr: cond.Expr) -> tree.Condition:
    """A checked condition as the manifest carries it (offsets dropped: they only locate errors;
    comparisons of conditions written as the conditions they are: `cond.lower`)."""
    return _tree(cond.lower(expr))


def _tree(expr: cond.Expr) -> tree.Condition:
    if isinstance(expr, cond.And):
        return tree.And(op="and", args=(_tree(expr.left), _tree(expr.right)))
    if isinstance(expr, cond.Or):
        return tree.Or(op="or", args=(_tree(expr.left), _tree(expr.right)))
    if isinstance(expr, cond.Not):
        return tree.Not(op="not", arg=_tree(expr.expr))
    if isinstance(expr, cond.Compare):
        assert not isinstance(expr.left, cond.Expr)  # lowered
        return tree.Compare(op=expr.op, left=_operand(expr.left), right=_operand(expr.right))
    if isinstance(expr, cond.In):
        assert isinstance(expr.left, cond.Field)  # lowered
        return tree.InList(op="in", field=expr.left.path, values=tuple(v.value for v in expr.values))
    if isinstance(expr, cond.Has):
        return tree.Has(op="has", field=expr.field.path)
    if isinstance(expr, cond.IsTrue):
        return tree.IsTrue(op="true", field=expr.field.path)
    return tree.Method(op=expr.name, field=expr.field.path, arg=expr.arg)


def _when(expr: cond.Expr | None) -> tree.Condition | None:
    return None if expr is None else condition_tree(expr)


def stage_spec(stage: Stage) -> StageSpec:
    then = stage.on_timeout
    return StageSpec(index=stage.index, approvers=stage.approvers, mode=stage.mode,
                     timeout_seconds=stage.timeout_seconds,
                     on_timeout=stage_spec(then) if isinstance(then, Stage) else then)


def call_spec(call: OutcomeActionNode) -> dict[str, Any]:
    return {"function": call.function, "input": call.input, "attempts": call.attempts,
            "interval_seconds": call.interval_seconds, "backoff": call.backoff, "timeout_seconds": call.timeout_seconds}


def step_spec(node: IRNode) -> StepSpec:
    base: dict[str, Any] = {"id": node.id, "title": node.title, "when": _when(node.when)}
    if isinstance(node, ApprovalNode):
        return ApprovalStepSpec(kind="approval", **base, stage=stage_spec(node.stage),
                                remind_seconds=node.remind_seconds, allow=node.allow, return_to=node.return_to)
    if isinstance(node, ActionNode):
        return ActionStepSpec(kind="action", **base, **call_spec(node), result_key=result_key(node.id),
                              compensate=node.compensate)
    if isinstance(node, NotifyNode):
        return NotifyStepSpec(kind="notify", **base, to=node.to, message=node.message)
    if isinstance(node, WaitNode):
        return WaitStepSpec(kind="wait", **base, seconds=node.seconds, until_field=node.until_field)
    if isinstance(node, BranchNode):
        cases = tuple(CaseSpec(when=condition_tree(expr), steps=steps_spec(seq)) for expr, seq in node.cases)
        return BranchStepSpec(kind="branch", **base, cases=cases, default=steps_spec(node.default))
    return ParallelStepSpec(kind="parallel", **base, branches=tuple(steps_spec(b) for b in node.branches))


def steps_spec(seq: Sequence) -> tuple[StepSpec, ...]:
    return tuple(step_spec(node) for node in seq)


def outcomes_spec(ir: FlowIR) -> dict[str, OutcomeSpec]:
    return {
        outcome: OutcomeSpec(notify=ir.notify.get(outcome, ()), message=ir.notify_messages.get(outcome),
                             actions=tuple(CallSpec(**call_spec(a)) for a in ir.on_actions.get(outcome, ())))
        for outcome in ("approved", "rejected", "withdrawn")
    }
