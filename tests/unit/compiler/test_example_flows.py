"""The acceptance set: every example flow compiles to valid, stable ASL that matches its golden file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from statelint.config import Config
from statelint.linter import Linter

from dsl_compiler import compile_file
from tests.conftest import FLOWS, ROOT

# statemachines/ is what template.yaml deploys and the one golden copy of the example flows' output.
GOLDEN = ROOT / "statemachines"
IDS = [p.stem for p in FLOWS]


def lint(definition: dict[str, object]) -> list[str]:
    return [str(p) for p in Linter.validate(json.dumps(definition), Config([], False, False))]


@pytest.mark.parametrize("flow", FLOWS, ids=IDS)
def test_matches_golden_fixture(flow: Path) -> None:
    compiled = compile_file(flow)
    asl, manifest = GOLDEN / compiled.asl_file, GOLDEN / compiled.manifest_file
    if os.environ.get("UPDATE_GOLDEN"):
        asl.write_text(compiled.asl_json(), encoding="utf-8")
        manifest.write_text(compiled.manifest_json(), encoding="utf-8")
    assert compiled.asl_json() == asl.read_text(encoding="utf-8")
    assert compiled.manifest_json() == manifest.read_text(encoding="utf-8")


@pytest.mark.parametrize("flow", FLOWS, ids=IDS)
def test_output_is_valid_asl(flow: Path) -> None:
    assert lint(compile_file(flow).definition) == []


def test_statelint_catches_a_broken_definition() -> None:
    # The check above can fail: a dangling Next is reported.
    definition = compile_file(FLOWS[0]).definition
    first = definition["StartAt"]
    definition["States"][first]["Next"] = "No such state"
    assert lint(definition)


@pytest.mark.parametrize("flow", FLOWS, ids=IDS)
def test_deployed_definitions_are_up_to_date(flow: Path) -> None:
    """statemachines/ is what template.yaml deploys: `make compile` must have been run."""
    compiled = compile_file(flow)
    deployed = ROOT / "statemachines" / compiled.asl_file
    assert deployed.read_text(encoding="utf-8") == compiled.asl_json(), "run `make compile`"


def test_compile_is_byte_identical_across_processes(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        cmd = [sys.executable, "-m", "dsl_compiler", "compile", *map(str, FLOWS), "--out", str(out)]
        # A different hash seed per run would expose any dependence on set or dict-of-hash order.
        env = {**os.environ, "PYTHONHASHSEED": "1" if run == "a" else "2"}
        subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert len(outputs[0]) == 2 * len(FLOWS)
    assert outputs[0] == outputs[1]
