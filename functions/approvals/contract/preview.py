"""Which steps a request would run: the compiled flow's condition trees evaluated in Python, the
meaning the Choice rules have. The API's preview and the compiler's CLI both answer from here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .conditions import evaluate
from .manifest import ApprovalStepSpec, BranchStepSpec, FlowManifestSpec, ParallelStepSpec, StepSpec


def with_defaults(input_schema: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The input as the machine sees it: absent fields that declare a default get it."""
    out = dict(data)
    for name, prop in (input_schema.get("properties") or {}).items():
        if name not in out and isinstance(prop, Mapping) and "default" in prop:
            out[name] = prop["default"]
    return out


def preview_steps(
    steps: tuple[StepSpec, ...], input_schema: Mapping[str, Any], data: Mapping[str, Any], requester: str = ""
) -> list[dict[str, Any]]:
    """`[{"step", "runs", "approvers", "mode"}]` in document order; nothing is started."""
    context = {"input": with_defaults(input_schema, data), "requester": requester}
    rows: list[dict[str, Any]] = []
    _sequence(steps, True, context, rows)
    return rows


def preview(spec: FlowManifestSpec, data: Mapping[str, Any], requester: str = "") -> list[dict[str, Any]]:
    return preview_steps(spec.steps, spec.input_schema, data, requester)


def _sequence(steps: tuple[StepSpec, ...], runs: bool, context: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    for step in steps:
        _step(step, runs, context, rows)


def _step(step: StepSpec, runs: bool, context: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    runs = runs and (step.when is None or evaluate(step.when, context))
    row: dict[str, Any] = {"step": step.id, "runs": runs}
    if isinstance(step, ApprovalStepSpec):
        row["approvers"] = list(step.stage.approvers)
        row["mode"] = step.stage.mode
    rows.append(row)
    if isinstance(step, BranchStepSpec):
        chosen = False
        for case in step.cases:
            hit = runs and not chosen and evaluate(case.when, context)
            chosen = chosen or hit
            _sequence(case.steps, hit, context, rows)
        _sequence(step.default, runs and not chosen, context, rows)
    elif isinstance(step, ParallelStepSpec):
        for branch in step.branches:
            _sequence(branch, runs, context, rows)
