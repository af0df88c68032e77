"""Which steps a request would run: the same condition tree as the Choice rules, evaluated in Python."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .evaluate import evaluate
from .ir import ApprovalNode, BranchNode, FlowIR, IRNode, ParallelNode, Sequence


def with_defaults(ir: FlowIR, data: Mapping[str, Any]) -> dict[str, Any]:
    """The input as the machine sees it: absent fields that declare a default get it."""
    out = dict(data)
    for name, spec in ir.input_fields.items():
        if name not in out and "default" in spec:
            out[name] = spec["default"]
    return out


def preview(ir: FlowIR, data: Mapping[str, Any], requester: str = "") -> list[dict[str, Any]]:
    """`[{"step", "runs", "approvers", "mode"}]` in document order; nothing is started."""
    context = {"input": with_defaults(ir, data), "requester": requester}
    rows: list[dict[str, Any]] = []
    _sequence(ir.steps, True, context, rows)
    return rows


def _sequence(seq: Sequence, runs: bool, context: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    for node in seq:
        _node(node, runs, context, rows)


def _node(node: IRNode, runs: bool, context: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    runs = runs and (node.when is None or evaluate(node.when, context))
    row: dict[str, Any] = {"step": node.id, "runs": runs}
    if isinstance(node, ApprovalNode):
        row["approvers"] = list(node.stage.approvers)
        row["mode"] = node.stage.mode
    rows.append(row)
    if isinstance(node, BranchNode):
        chosen = False
        for expr, case in node.cases:
            hit = runs and not chosen and evaluate(expr, context)
            chosen = chosen or hit
            _sequence(case, hit, context, rows)
        _sequence(node.default, runs and not chosen, context, rows)
    elif isinstance(node, ParallelNode):
        for branch in node.branches:
            _sequence(branch, runs, context, rows)
