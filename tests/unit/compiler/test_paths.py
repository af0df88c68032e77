"""Field names in the paths the machine reads: what compiles, statelint accepts (the refusals are in
invalid/unreadable-paths.yaml)."""

from __future__ import annotations

import pytest

from dsl_compiler import compile_text
from dsl_compiler.paths import input_path, is_path_name
from tests.unit.compiler.test_example_flows import lint

FLOW = """flow: path-names
version: 1
input:
  café: {type: string, required: true}
  cost_center: {type: string, required: true}
  x1: {type: boolean, default: false}
  my field: {type: string}
  a-b: {type: string}
  meta: {type: object, required: true}
steps:
  - id: review
    type: approval
    when: x1 && has(meta.ref_2)
    approvers: {from_input: a-b}
    timeout: none
  - id: call
    type: action
    function: Call
    input: {c: $.café, cc: $.cost_center, deep: $.meta.ref_2, text: "5 $ off", nested: {"$": "$.x", "a.b": [1]}}
"""


def test_names_a_path_can_carry_compile_to_dot_steps_statelint_accepts() -> None:
    # Names no path can carry are fine as long as no path needs them (from_input reads them by name).
    definition = compile_text(FLOW).definition
    assert lint(definition) == []
    payload = definition["States"]["Call"]["Parameters"]["Payload"]["input"]
    assert payload == {"c.$": "$.input.café", "cc.$": "$.input.cost_center", "deep.$": "$.input.meta.ref_2",
                       "text": "5 $ off", "nested": {"$": "$.x", "a.b": [1]}}


@pytest.mark.parametrize("name", ["a", "cost_center", "x1", "café", "名前", "a\u0301"])
def test_path_names(name: str) -> None:
    assert is_path_name(name)


@pytest.mark.parametrize("name", ["", "_x", "1a", "a-b", "my field", "a.b", "a$", "a[0]", "'a'", "é-"])
def test_not_path_names(name: str) -> None:
    assert not is_path_name(name)


def test_the_emitter_refuses_a_name_the_validator_should_have() -> None:
    assert input_path(["meta", "ref"]) == "$.input.meta.ref"
    with pytest.raises(ValueError, match="cannot be read"):
        input_path(["my field"])
