"""AWS takes a definition of at most 1 MB: the size grows linearly with the steps, returns
included, and a flow over the limit is a located error, not a machine AWS refuses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dsl_compiler import CompileError, compile_text, validate_files
from dsl_compiler.definition import MAX_ARN, MAX_DEFINITION_BYTES, deployed_size

APPROVAL = "  - {{id: review-by-team-{i:03}, type: approval, approvers: {{role: r}}, timeout: none, allow: [return]}}\n"
MIXED = (  # an approval, a branch with one in a case, a Parallel with one in each branch: all may return
    "  - {{id: a{i}, type: approval, approvers: {{role: r}}, timeout: 1d, on_timeout: reject, allow: [return]}}\n"
    "  - id: b{i}\n    type: branch\n    cases:\n"
    "      - {{when: n > {i}, steps: [{{id: c{i}, type: approval, approvers: {{role: r}}, timeout: none, "
    "allow: [return]}}]}}\n"
    "  - id: p{i}\n    type: parallel\n    branches:\n"
    "      - [{{id: l{i}, type: approval, approvers: {{role: r}}, timeout: none, allow: [return]}}]\n"
    "      - [{{id: r{i}, type: approval, approvers: {{role: r}}, timeout: none, allow: [return]}}]\n"
)


def flow(steps: int, template: str = APPROVAL) -> str:
    body = "".join(template.format(i=i) for i in range(steps))
    return f"flow: many\nversion: 1\ninput: {{n: {{type: number, required: true}}}}\nsteps:\n{body}"


def size(text: str) -> int:
    return deployed_size(compile_text(text).definition)


@pytest.mark.parametrize("template", [APPROVAL, MIXED], ids=["approvals", "branches-and-parallels"])
def test_size_grows_linearly_with_the_steps_that_may_return(template: str) -> None:
    # A catcher per earlier approval on every stage grew it with the square: 3.4 times for twice the steps.
    assert size(flow(100, template)) / size(flow(50, template)) < 2.3


def test_the_size_is_the_minified_definition_with_arns_at_their_longest() -> None:
    definition = compile_text(flow(1)).definition
    text = json.dumps(definition, separators=(",", ":"), ensure_ascii=False)
    placeholders = text.count("${")
    # OpenStep, Finish (the outcome, then a failure), and OpenStep again for the resubmission
    arns = ("${OpenStepFunctionArn}", "${FinishFunctionArn}", "${FinishFunctionArn}", "${OpenStepFunctionArn}")
    assert placeholders == len(arns)
    assert deployed_size(definition) == len(text.encode()) + sum(MAX_ARN - len(p) for p in arns)


def test_a_flow_over_the_limit_is_a_located_error() -> None:
    text = flow(900)
    with pytest.raises(CompileError) as info:
        compile_text(text, "big.yaml")
    [error] = info.value.errors
    assert (error.location.line, error.location.col) == (4, 1)  # the `steps` key
    assert error.message.startswith("the definition would be ")
    assert f"bytes, over AWS's 1 MB ({MAX_DEFINITION_BYTES:,} bytes" in error.message
    assert int(error.message.split()[4].replace(",", "")) > MAX_DEFINITION_BYTES


def test_validate_reports_it_too(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(flow(900), encoding="utf-8")
    with pytest.raises(CompileError) as info:
        compile_text(flow(900), str(path))
    assert [str(e) for e in validate_files([str(path)])] == [str(e) for e in info.value.errors]


def nested_parallels(depth: int) -> str:
    inner = "[{id: leaf, type: notify, to: {role: x}}]"
    for d in range(depth):
        inner = f"[{{id: p{d}, type: parallel, branches: [{inner}, [{{id: n{d}, type: notify, to: {{role: x}}}}]]}}]"
    return f"flow: deep\nversion: 1\nsteps: {inner}\n"


def test_parallels_nested_50_deep_are_a_located_error_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(CompileError) as info:
        compile_text(nested_parallels(50), "deep.yaml")
    assert time.perf_counter() - started < 0.5
    assert [str(e) for e in info.value.errors] == [
        "deep.yaml:3:806: error: YAML: nested more than 64 levels deep"]


def test_parallels_as_deep_as_yaml_allows_compile() -> None:
    assert size(nested_parallels(20)) < MAX_DEFINITION_BYTES  # 62 collections deep, a notify in the 63rd
