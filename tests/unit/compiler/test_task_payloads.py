"""Every Task the compiler emits sends exactly the fields of its input model in the contract
(approvals.contract.tasks), the models the handlers parse their events with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from approvals.contract import names
from approvals.contract.tasks import (
    ActionInput,
    CompensationInput,
    FinishInput,
    NotifyInput,
    OpenStageSpec,
    OpenStepInput,
    StepTimedOutInput,
)
from dsl_compiler import compile_file
from dsl_compiler.asl import arn
from tests.conftest import FLOWS, ROOT

ALL_FLOWS = [*FLOWS, *sorted((ROOT / "tests" / "integration" / "flows").glob("*.yaml"))]
RUNTIME: dict[str, type[BaseModel]] = {
    arn(names.OPEN_STEP_FUNCTION): OpenStepInput,
    arn(names.STEP_TIMED_OUT_FUNCTION): StepTimedOutInput,
    arn(names.NOTIFY_FUNCTION): NotifyInput,
    arn(names.FINISH_FUNCTION): FinishInput,
}


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches") or ():
            yield from tasks(branch["States"])


def fields(payload: dict[str, Any]) -> set[str]:
    return {key.removesuffix(".$") for key in payload}


def resolved(spec: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """The stage spec as the Task sends it: `return_to.$` reads a prefix of a list the machine keeps in
    its first state (dsl_compiler/emit_returns.py)."""
    expression = spec.get("return_to.$")
    if expression is None:
        return spec
    match = re.fullmatch(r"States\.ArrayGetItem\(States\.ArrayPartition\(\$\.return_targets\.(r\d+), (\d+)\), 0\)",
                         expression)
    assert match, expression
    kept = definition["States"][definition["StartAt"]]
    assert kept["ResultPath"] == "$.return_targets"
    rest = {k: v for k, v in spec.items() if k != "return_to.$"}
    return {**rest, "return_to": kept["Result"][match.group(1)][: int(match.group(2))]}


def model_for(function: str, payload: dict[str, Any]) -> type[BaseModel]:
    if function in RUNTIME:
        return RUNTIME[function]
    return CompensationInput if "result.$" in payload else ActionInput


@pytest.mark.parametrize("flow", ALL_FLOWS, ids=[p.stem for p in ALL_FLOWS])
def test_every_payload_has_exactly_its_models_fields(flow: Path) -> None:
    found = set()
    definition = compile_file(flow).definition
    for name, state in tasks(definition["States"]):
        payload = state["Parameters"]["Payload"]
        model = model_for(state["Parameters"]["FunctionName"], payload)
        found.add(model)
        expected = set(model.model_fields) - model.legacy
        assert fields(payload) == expected, f"{flow.name}: {name} ({model.__name__})"
        if model is OpenStepInput:
            assert fields(payload["spec"]) == set(OpenStageSpec.model_fields), f"{flow.name}: {name} spec"
            OpenStageSpec.model_validate(resolved(payload["spec"], definition))
    assert {OpenStepInput, FinishInput} <= found


def test_the_check_sees_a_missing_field() -> None:
    definition = compile_file(FLOWS[0]).definition
    name, state = next(tasks(definition["States"]))
    del state["Parameters"]["Payload"]["step"]
    assert fields(state["Parameters"]["Payload"]) != set(OpenStepInput.model_fields)
