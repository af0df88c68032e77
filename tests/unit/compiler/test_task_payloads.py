"""Every Task the compiler emits sends exactly the fields of its input model in the contract
(approvals.contract.tasks), the models the handlers parse their events with."""

from __future__ import annotations

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


def model_for(function: str, payload: dict[str, Any]) -> type[BaseModel]:
    if function in RUNTIME:
        return RUNTIME[function]
    return CompensationInput if "result.$" in payload else ActionInput


@pytest.mark.parametrize("flow", ALL_FLOWS, ids=[p.stem for p in ALL_FLOWS])
def test_every_payload_has_exactly_its_models_fields(flow: Path) -> None:
    found = set()
    for name, state in tasks(compile_file(flow).definition["States"]):
        payload = state["Parameters"]["Payload"]
        model = model_for(state["Parameters"]["FunctionName"], payload)
        found.add(model)
        assert fields(payload) == set(model.model_fields), f"{flow.name}: {name} ({model.__name__})"
        if model is OpenStepInput:
            assert set(payload["spec"]) == set(OpenStageSpec.model_fields), f"{flow.name}: {name} spec"
            OpenStageSpec.model_validate(payload["spec"])
    assert {OpenStepInput, FinishInput} <= found


def test_the_check_sees_a_missing_field() -> None:
    definition = compile_file(FLOWS[0]).definition
    name, state = next(tasks(definition["States"]))
    del state["Parameters"]["Payload"]["step"]
    assert fields(state["Parameters"]["Payload"]) != set(OpenStepInput.model_fields)
