"""What compiles deploys: state names within AWS's 80 characters, strict JSON only."""

from __future__ import annotations

from typing import Any

import pytest

from dsl_compiler import CompileError, compile_text, pipeline
from dsl_compiler.emit import MAX_STATE_NAME, fit_state_name

LONG = "a-step-id-that-is-long-enough-to-push-every-state-name-built-from-it-past-eighty-characters"
FLOW = f"""flow: long-names
version: 1
steps:
  - id: {LONG}
    type: action
    function: Grant
    compensate: Revoke
  - id: {LONG}-2
    type: approval
    approvers: {{role: x}}
    timeout: 1d
    on_timeout: {{escalate_to: {{role: y}}, timeout: 1d, on_timeout: {{escalate_to: {{role: z}}}}}}
  - id: {LONG}-3
    type: parallel
    branches:
      - [{{id: {LONG}-4, type: approval, approvers: {{role: x}}, timeout: none}}]
      - [{{id: {LONG}-5, type: approval, approvers: {{role: x}}, timeout: none}}]
  - id: {LONG}-6
    type: action
    function: {"F" * 64}
on_approved:
  - action: {{function: {"G" * 64}}}
  - action: {{function: {"G" * 64}}}
"""


def names_and_targets(machine: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Every state name, and every name a StartAt, Next or Default points to."""
    names, targets = list(machine["States"]), [machine["StartAt"]]
    for state in machine["States"].values():
        for rule in [state, *state.get("Catch", []), *state.get("Choices", [])]:
            targets += [rule[k] for k in ("Next", "Default") if k in rule]
        for branch in state.get("Branches", []):
            inner = names_and_targets(branch)
            names, targets = names + inner[0], targets + inner[1]
    return names, targets


def test_long_state_names_are_shortened_uniquely_and_stably() -> None:
    flow = compile_text(FLOW)
    names, targets = names_and_targets(flow.definition)
    assert max(len(n) for n in names) == MAX_STATE_NAME
    assert len(names) == len(set(names))
    assert set(targets) <= set(names)  # transitions use the shortened names
    assert compile_text(FLOW).asl_json() == flow.asl_json()


def test_fit_state_name() -> None:
    assert fit_state_name("Short") == "Short"
    assert fit_state_name("x" * 80) == "x" * 80
    long = fit_state_name("Undo " + "y" * 100 + " approval timed out")
    assert len(long) <= MAX_STATE_NAME
    assert long.startswith("Undo yyy") and "approval timed out #" in long
    assert fit_state_name("a" * 81) != fit_state_name("a" * 82)


def test_output_that_is_not_strict_json_is_a_located_error(monkeypatch: pytest.MonkeyPatch) -> None:
    build = pipeline.build_manifest

    def with_nan(*args: Any) -> dict[str, Any]:
        return {**build(*args), "oops": float("nan")}

    monkeypatch.setattr(pipeline, "build_manifest", with_nan)
    with pytest.raises(CompileError) as info:
        compile_text("flow: nan\nversion: 1\nsteps:\n  - {id: a, type: action, function: Go}\n", "f.yaml")
    assert [str(e) for e in info.value.errors] == [
        "f.yaml:1:1: error: the compiled output is not valid JSON: "
        "Out of range float values are not JSON compliant: nan"
    ]
