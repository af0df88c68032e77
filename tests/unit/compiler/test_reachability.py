"""AWS refuses a definition with a state nothing leads to (`MISSING_TRANSITION_TARGET: State "X" is
not reachable`): every state of every compiled machine is reachable from its StartAt, inside Parallel
branches too. The walk here is the test's own, not dsl_compiler.definition's."""

from __future__ import annotations

from typing import Any

import pytest

from dsl_compiler import CompileError, compile_text, pipeline
from tests.unit.compiler.machines import EDGE, sources

SOURCES = sources()


def unreached(machine: dict[str, Any], where: str = "") -> list[str]:
    states = machine["States"]
    seen, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in states, f"{where}{name!r} is a transition to no state"
        seen.add(name)
        state = states[name]
        rules = state.get("Choices", []) + state.get("Catch", [])
        todo += [t for t in [state.get("Next"), state.get("Default"), *(r.get("Next") for r in rules)] if t]
    lost = [f"{where}{name}" for name in states if name not in seen]
    for name, state in states.items():
        for b, branch in enumerate(state.get("Branches", [])):
            lost += unreached(branch, f"{where}{name}[{b}]/")
    return lost


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[name for name, _ in SOURCES])
def test_every_state_is_reachable_from_start_at(name: str, text: str) -> None:
    assert unreached(compile_text(text, f"{name}.yaml").definition) == []


def test_a_flow_without_approvals_has_no_rejected_or_withdrawn_outcome() -> None:
    states = compile_text(EDGE["no-approval"]).definition["States"]
    assert "Rejected" not in states and "Withdrawn" not in states
    assert not any(n.startswith("On ") for n in states)  # on_rejected / on_withdrawn never run
    assert states["Failed"]["Next"] == "Undo go?"  # a failed run still compensates
    assert "Approved" in states


def test_the_walk_finds_an_unreachable_state() -> None:
    machine = compile_text(EDGE["only-a-wait"]).definition
    machine["States"]["Stray"] = {"Type": "Succeed"}
    assert unreached(machine) == ["Stray"]


def test_an_unreachable_state_the_emitter_made_is_an_error_not_a_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    emit = pipeline.emit

    def with_stray(flow_ir: Any) -> Any:
        emitted = emit(flow_ir)
        emitted.definition["States"]["Stray"] = {"Type": "Succeed"}
        return emitted

    monkeypatch.setattr(pipeline, "emit", with_stray)
    with pytest.raises(CompileError) as info:
        compile_text(EDGE["only-a-wait"], "f.yaml")
    assert [str(e) for e in info.value.errors] == [
        "f.yaml:1:1: error: internal error, please report this flow: state 'Stray' is unreachable"]
