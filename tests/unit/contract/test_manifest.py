"""The manifest is the compiled flow: what the compiler writes, the functions read back whole,
with the same meaning the flow source has; old manifests stay readable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from approvals.contract.manifest import (
    MANIFEST_FORMAT,
    ActionStepSpec,
    ManifestError,
    read_manifest,
)
from bench.cold_start import package_leaks
from dsl_compiler import compile_file
from dsl_compiler.cli import main
from tests.conftest import FLOWS, ROOT

ALL_FLOWS = [*FLOWS, *sorted((ROOT / "tests" / "integration" / "flows").glob("*.yaml"))]
FORMAT1 = sorted((Path(__file__).parent / "format1").glob("*.manifest.json"))


def _source_steps(steps: list[Any], found: dict[str, dict[str, Any]]) -> None:
    """The flow source read independently of the compiler: per step its type, compensation and the
    ids after it in its own list (what the runtime needs of a step)."""

    def ids(items: list[Any]) -> list[str]:
        out: list[str] = []
        for item in items:
            out.append(item["id"])
            for inner in nested(item):
                out += ids(inner)
        return out

    def nested(step: Mapping[str, Any]) -> list[list[Any]]:
        lists = list(step.get("branches") or [])
        lists += [case.get("steps") or [] for case in step.get("cases") or []]
        return lists + ([step["default"]] if step.get("default") else [])

    for index, step in enumerate(steps):
        found[step["id"]] = {"kind": step["type"], "compensate": step.get("compensate"),
                             "followers": tuple(ids(steps[index + 1:]))}
        for inner in nested(step):
            _source_steps(inner, found)


def _from_input(node: Any) -> set[str]:
    if isinstance(node, Mapping):
        found = {node["from_input"]} if isinstance(node.get("from_input"), str) else set()
        return found.union(*(_from_input(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_from_input(v) for v in node))
    return set()


@pytest.mark.parametrize("flow", ALL_FLOWS, ids=[p.stem for p in ALL_FLOWS])
def test_every_flow_round_trips_through_its_manifest(flow: Path) -> None:
    compiled = compile_file(flow)
    written = json.loads(compiled.manifest_json())
    spec = read_manifest(written)
    assert spec.format == MANIFEST_FORMAT
    # Read back whole: nothing the compiler wrote is lost or changed by the reader.
    assert [s.model_dump(mode="json", exclude_defaults=True) for s in spec.steps] == written["steps"]
    outcomes = {k: v.model_dump(mode="json", exclude_defaults=True) for k, v in spec.outcomes.items()}
    assert outcomes == written["outcomes"]
    assert spec.step_ids == compiled.ir.step_ids and spec.name == compiled.name
    # ... and it means what the source says.
    source = yaml.safe_load(flow.read_text(encoding="utf-8"))
    expected: dict[str, dict[str, Any]] = {}
    _source_steps(source["steps"], expected)
    assert {sid: {"kind": step.kind, "compensate": spec.compensation_of(sid), "followers": spec.followers[sid]}
            for sid, step in spec.by_id.items()} == expected
    assert set(spec.from_input_fields) == _from_input(source)
    for step in spec.by_id.values():
        if isinstance(step, ActionStepSpec):
            assert step.result_key == step.id.replace("-", "_")


@pytest.mark.parametrize("path", FORMAT1, ids=[p.stem for p in FORMAT1])
def test_a_format_1_manifest_stays_readable(path: Path) -> None:
    old = json.loads(path.read_text(encoding="utf-8"))
    spec = read_manifest(old)
    assert (spec.format, spec.flow, spec.version, spec.name) == (1, old["flow"], old["version"], old["state_machine"])
    assert spec.input_schema == old["input_schema"] and spec.display_title == old["title"]
    assert spec.retain_hot_seconds == 30 * 86400 and spec.steps == ()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"format": 3, "flow": "f", "version": 1}, "manifest format 3 is not known"),
        ({"format": 2, "version": 1}, "not a flow manifest"),
        ({"format": 2, "flow": "f", "version": 1, "steps": [{"id": "a", "kind": "dance"}]}, "not a flow manifest"),
    ],
)
def test_what_is_not_a_manifest_is_refused(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        read_manifest(data)


def test_the_lambda_package_holds_neither_the_compiler_nor_yaml() -> None:
    assert package_leaks(ROOT / "functions") == []


@pytest.mark.parametrize("path", FORMAT1, ids=[p.stem for p in FORMAT1])
def test_upgrade_rewrites_a_format_1_manifest_from_its_source(path: Path, tmp_path: Path) -> None:
    old = tmp_path / path.name
    old.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["upgrade", str(old), "--check"]) == 1 and old.read_text(encoding="utf-8") == path.read_text()
    assert main(["upgrade", str(old)]) == 0
    new = json.loads(old.read_text(encoding="utf-8"))
    assert new["definition"] == json.loads(path.read_text())["definition"]  # the deployed machine stays
    flow = ROOT / "flows" / f"{new['flow']}.yaml"  # the fixtures are today's example flows, compiled before
    assert new == compile_file(flow).manifest
    assert main(["upgrade", str(old), "--check"]) == 0


def test_upgrade_refuses_a_manifest_it_cannot_rebuild(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "x-v1.manifest.json"
    bare.write_text(json.dumps({"flow": "x", "version": 1, "state_machine": "x-v1"}), encoding="utf-8")
    assert main(["upgrade", str(bare)]) == 1
    assert capsys.readouterr().err.strip().endswith("carries no flow source: compile its flow again")


def test_every_deployed_manifest_is_in_the_current_format() -> None:
    for path in sorted((ROOT / "statemachines").glob("*.manifest.json")):
        assert read_manifest(json.loads(path.read_text(encoding="utf-8"))).format == MANIFEST_FORMAT, path
