"""The loader refuses, with a location and fast, what would exhaust the compiler: alias bombs and deep nesting."""

from __future__ import annotations

import time

import pytest

from dsl_compiler import CompileError, compile_text
from dsl_compiler.loader import MAX_ALIAS_NODES, MAX_DEPTH

FLOW = """flow: limits
version: 1
steps:
  - id: a
    type: action
    function: Go
    input: {x: *deep}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(CompileError) as info:
        compile_text(text, "f.yaml")
    return [str(e) for e in info.value.errors]


def test_a_billion_laughs_is_refused_in_well_under_a_second() -> None:
    rows = ["a: &a [" + ", ".join(["lol"] * 10) + "]"]
    rows += [f"{n}: &{n} [" + ", ".join([f"*{p}"] * 10) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    started = time.perf_counter()
    found = errors("\n".join(rows))
    assert time.perf_counter() - started < 0.5
    assert found == [f"f.yaml:4:36: error: YAML: aliases expand to more than {MAX_ALIAS_NODES} nodes"]


def test_aliases_within_the_budget_are_fine() -> None:
    text = "x-anchors: {ann: &ann {users: [ann]}}\n" + FLOW.replace("*deep", "1").replace(
        "steps:", "steps:\n  - {id: tell, type: notify, to: *ann}\n  - {id: tell-2, type: notify, to: *ann}", 1)
    assert "unknown key 'x-anchors'" in errors(text)[0]  # aliases resolved; only the extra key is wrong


def test_aliases_cannot_nest_deeper_than_the_text_may() -> None:
    half = MAX_DEPTH // 2 + 2
    text = f"x: &deep {'[' * half}1{']' * half}\n" + FLOW.replace("*deep", "[" * half + "*deep" + "]" * half)
    # Located in the aliased node, where the depth runs out (4 levels above `x` in the step, `half` in x).
    assert errors(text) == ["f.yaml:1:1: error: unknown key 'x'",
                            f"f.yaml:1:{10 + MAX_DEPTH - 4 - half}: error: nested more than {MAX_DEPTH} levels deep"]


def test_deep_nesting_is_located_not_a_recursion_error() -> None:
    text = FLOW.replace("*deep", "[" * 5000 + "]" * 5000)
    # The step's `input` is at level 4, so the first '[' (column 16) is level 5.
    assert errors(text) == [f"f.yaml:7:{16 + MAX_DEPTH - 4}: error: YAML: nested more than {MAX_DEPTH} levels deep"]


def test_a_value_inside_the_deepest_collection_allowed_is_fine() -> None:
    # Found by bench/compiler_fuzz.py: the value (not a collection) in the 64th level was "too deep",
    # then reported again as a value of the wrong type.
    text = FLOW.replace("*deep", "[" * (MAX_DEPTH - 4) + "1" + "]" * (MAX_DEPTH - 4))
    compile_text(text, "f.yaml")
    assert errors(text.replace("[1]", "[[1]]")) == [
        f"f.yaml:7:{16 + MAX_DEPTH - 4}: error: YAML: nested more than {MAX_DEPTH} levels deep"]
