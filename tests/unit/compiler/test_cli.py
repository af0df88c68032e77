"""The command line exactly as api.md says: compile, validate, graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dsl_compiler.cli import main
from tests.conftest import FLOWS, ROOT

INVALID = Path(__file__).parent / "invalid"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dsl_compiler", *args], cwd=ROOT, capture_output=True, text=True)


def test_validate_valid_flows_exits_0() -> None:
    result = run("validate", *map(str, FLOWS))
    assert (result.returncode, result.stderr) == (0, "")


def test_validate_prints_every_problem_of_every_file_and_no_traceback() -> None:
    files = [INVALID / "many-problems.yaml", INVALID / "yaml-syntax.yaml"]
    result = run("validate", *map(str, files))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 7
    assert all(" error: " in line for line in lines)
    assert lines[0].startswith(f"{files[0]}:1:7: error: ")
    assert lines[-1].startswith(f"{files[1]}:7:12: error: YAML syntax")
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_file_is_a_clean_error() -> None:
    result = run("validate", "no/such/flow.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith("no/such/flow.yaml:1:1: error: cannot read file")
    assert "Traceback" not in result.stderr


def test_compile_writes_definition_and_manifest(tmp_path: Path) -> None:
    leave = ROOT / "flows" / "leave-request.yaml"
    assert main(["compile", str(leave), "--out", str(tmp_path / "out")]) == 0
    asl = json.loads((tmp_path / "out" / "leave-request-v1.asl.json").read_text())
    manifest = json.loads((tmp_path / "out" / "leave-request-v1.manifest.json").read_text())
    assert asl["StartAt"] == "Manager approval"
    assert manifest["state_machine"] == "leave-request-v1"
    assert manifest["functions"] == ["FinishFunction", "OpenStepFunction", "StepTimedOutFunction"]


def test_compile_refuses_an_invalid_flow_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("compile", str(FLOWS[0]), str(INVALID / "unknown-keys.yaml"), "--out", str(out))
    assert result.returncode == 1
    assert "unknown key 'colour'" in result.stderr
    assert not out.exists()


def test_compile_refuses_two_files_with_the_same_flow_version(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text((ROOT / "flows" / "leave-request.yaml").read_text())
    result = run("compile", str(ROOT / "flows" / "leave-request.yaml"), str(copy), "--out", str(tmp_path / "o"))
    assert result.returncode == 1
    assert f"{copy}:1:1: error: leave-request-v1 is also defined in" in result.stderr


def test_graph_prints_mermaid() -> None:
    result = run("graph", str(ROOT / "flows" / "leave-request.yaml"))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert any("manager<br/>approval (any)" in line for line in lines)
    assert any("-.->|timeout|" in line for line in lines)


def test_preview_command_shows_the_path() -> None:
    result = run("preview", str(ROOT / "flows" / "leave-request.yaml"), "--input", '{"days": 5, "start_date": "x"}')
    assert result.returncode == 0
    steps = {row["step"]: row["runs"] for row in json.loads(result.stdout)["steps"]}
    assert steps == {"manager": True, "director": True, "hr": True}


def test_usage_error_exits_2() -> None:
    result = run("compile")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
