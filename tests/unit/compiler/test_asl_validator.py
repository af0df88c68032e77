"""Two validators on every compiled machine (example flows, integration-test flows, docs flows and
the edge shapes of machines.py): statelint (Python) and asl-validator (npm, tests/tools/asl-validator,
installed by `make test`: `npm ci` from its package-lock.json). Each also refuses a broken one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dsl_compiler import compile_text
from tests.conftest import ROOT
from tests.unit.compiler.machines import sources
from tests.unit.compiler.test_example_flows import lint

TOOL = ROOT / "tests" / "tools" / "asl-validator"
CLI = TOOL / "node_modules" / ".bin" / "asl-validator"
SOURCES = sources()


def asl_validator(definitions: dict[str, dict[str, Any]], folder: Path) -> subprocess.CompletedProcess[str]:
    """One node process for all of them: `asl-validator --json-path A --json-path B ...`."""
    stamp = f"{TOOL.relative_to(ROOT)}/node_modules/.installed"
    assert CLI.is_file(), f"{CLI} is missing: `make test` installs it (or `make {stamp}`, which runs `npm ci`)"
    args = []
    for name, definition in definitions.items():
        path = folder / f"{name}.asl.json"
        path.write_text(json.dumps(definition, indent=2), encoding="utf-8")
        args += ["--json-path", str(path)]
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, Any]]:
    return {name: compile_text(text, f"{name}.yaml").definition for name, text in SOURCES}


def test_asl_validator_accepts_every_compiled_machine(compiled: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    result = asl_validator(compiled, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" is valid") == len(compiled) == len(SOURCES)


@pytest.mark.parametrize("name", [name for name, _ in SOURCES])
def test_statelint_accepts_every_compiled_machine(compiled: dict[str, dict[str, Any]], name: str) -> None:
    assert lint(compiled[name]) == []


def test_both_refuse_a_broken_machine(compiled: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    dangling = json.loads(json.dumps(compiled["contract-review"]))
    dangling["States"][dangling["StartAt"]]["Next"] = "No such state"
    bad_path = json.loads(json.dumps(compiled["leave-request"]))
    choice = next(s for s in bad_path["States"].values() if s["Type"] == "Choice")
    choice["Choices"][0]["And"][0]["Variable"] = "$.input.my field"  # a path AWS refuses
    result = asl_validator({"dangling": dangling, "bad-path": bad_path, "fine": compiled["expense-claim"]}, tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "MISSING_TRANSITION_TARGET" in output and "No such state" in output
    assert 'bad-path.asl.json" is invalid' in output and "asl_ref_path" in output
    assert output.count(" is valid") == 1
    assert lint(dangling)
    assert lint(bad_path) == []  # statelint does not check paths in nested Choice rules: one reason for both
