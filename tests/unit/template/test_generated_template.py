"""template.yaml's state machines are generated from the manifests (`make compile`), and a check
fails when template.yaml or statemachines/ is out of date with flows/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsl_compiler import sam_template
from dsl_compiler.cli import main
from dsl_compiler.errors import CompileError
from local.deploy import load_template
from tests.conftest import FLOWS, ROOT

NEW_FLOW = """flow: travel-request
version: 1
input:
  destination: {type: string, required: true}
steps:
  - id: manager
    type: approval
    approvers: {manager: 1}
    timeout: 2d
    on_timeout: reject
  - id: book
    type: action
    function: BookTravel
"""


def _outside_markers(text: str) -> list[str]:
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if sam_template.BEGIN in line)
    end = next(i for i, line in enumerate(lines) if sam_template.END in line)
    return lines[: begin + 1] + lines[end:]


def _checks(repo: Path, flows: list[Path]) -> tuple[int, int]:
    machines = repo / "statemachines"
    return (
        main(["compile", *map(str, flows), "--out", str(machines), "--check"]),
        main(["template", "--statemachines", str(machines), "--template", str(repo / "template.yaml"), "--check"]),
    )


def test_the_repository_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert _checks(ROOT, FLOWS) == (0, 0), f"run `make compile`:\n{capsys.readouterr().err}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the generator reads and writes: flows/, statemachines/, template.yaml."""
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "statemachines", tmp_path / "statemachines")
    shutil.copy(ROOT / "template.yaml", tmp_path / "template.yaml")
    return tmp_path


def _flows(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / "flows").glob("*.yaml") if p.name != "directory.yaml")


def test_a_new_flow_is_out_of_date_until_compiled(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _checks(repo, _flows(repo)) == (0, 0)
    (repo / "flows" / "travel-request.yaml").write_text(NEW_FLOW, encoding="utf-8")
    flows = _flows(repo)
    capsys.readouterr()

    assert _checks(repo, flows) == (1, 0)  # the template agrees with the (old) manifests...
    err = capsys.readouterr().err
    assert f"{repo}/statemachines/travel-request-v1.asl.json: missing (run `make compile`)" in err
    assert f"{repo}/statemachines/travel-request-v1.manifest.json: missing" in err

    before = (repo / "template.yaml").read_text(encoding="utf-8")
    assert main(["compile", *map(str, flows), "--out", str(repo / "statemachines")]) == 0
    assert _checks(repo, flows) == (0, 1)  # ...until they are compiled: then it is out of date
    err = capsys.readouterr().err
    assert "+  TravelRequestV1StateMachine:" in err and "template.yaml: out of date" in err

    assert main(["template", "--statemachines", str(repo / "statemachines"),
                 "--template", str(repo / "template.yaml")]) == 0
    assert _checks(repo, flows) == (0, 0)
    after = (repo / "template.yaml").read_text(encoding="utf-8")
    assert _outside_markers(after) == _outside_markers(before)  # hand-written lines are never touched
    resources = load_template(repo / "template.yaml")["Resources"]
    machine = resources["TravelRequestV1StateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachines/travel-request-v1.asl.json"
    assert machine["DefinitionSubstitutions"]["BookTravelArn"] == {"Fn::GetAtt": ["BookTravel", "Arn"]}
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "BookTravel"}}} in machine["Policies"]
    assert resources["TravelRequestV1FailedExecutionsAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    assert resources["BookTravelThrottlesAlarm"]["Properties"]["Dimensions"][0]["Value"] == {"Ref": "BookTravel"}


def test_a_changed_flow_is_out_of_date(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leave = repo / "flows" / "leave-request.yaml"
    leave.write_text(leave.read_text(encoding="utf-8").replace("timeout: 3d", "timeout: 4d", 1), encoding="utf-8")
    assert _checks(repo, _flows(repo))[0] == 1
    assert "leave-request-v1.asl.json: stale" in capsys.readouterr().err


def test_an_older_version_stays_deployed(repo: Path) -> None:
    """Bumping a flow's version adds a machine; the old one keeps serving running approvals."""
    leave = repo / "flows" / "leave-request.yaml"
    leave.write_text(leave.read_text(encoding="utf-8").replace("version: 1", "version: 2", 1), encoding="utf-8")
    machines = repo / "statemachines"
    assert main(["compile", *map(str, _flows(repo)), "--out", str(machines)]) == 0
    assert main(["template", "--statemachines", str(machines), "--template", str(repo / "template.yaml")]) == 0
    names = {r["Properties"]["Name"] for r in load_template(repo / "template.yaml")["Resources"].values()
             if r["Type"] == "AWS::Serverless::StateMachine"}
    assert {"leave-request-v1", "leave-request-v2"} <= names


def test_output_is_byte_identical_across_processes_and_manifest_order(repo: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        shutil.copy(ROOT / "template.yaml", repo / "template.yaml")
        (repo / "template.yaml").write_text(
            sam_template.update((repo / "template.yaml").read_text(encoding="utf-8"), ""), encoding="utf-8")
        cmd = [sys.executable, "-m", "dsl_compiler", "template", "--statemachines", "statemachines"]
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
        outputs.append((repo / "template.yaml").read_bytes())
    assert outputs[0] == outputs[1] == (ROOT / "template.yaml").read_bytes()
    manifests = sam_template.load_manifests(ROOT / "statemachines")
    assert sam_template.render(manifests) == sam_template.render(list(reversed(manifests)))


def test_logical_ids() -> None:
    assert sam_template.logical_id("leave-request-v1") == "LeaveRequestV1"
    assert sam_template.logical_id("a2-b-v10") == "A2BV10"


def _manifest(name: str, **changes: object) -> dict[str, object]:
    manifest = json.loads((ROOT / "statemachines" / "leave-request-v1.manifest.json").read_text(encoding="utf-8"))
    manifest.update(state_machine=name, definition=f"{name}.asl.json", **changes)
    return dict(manifest)


def test_two_flow_names_with_one_logical_id_are_refused() -> None:
    with pytest.raises(CompileError, match="ab-c-v1 and a-bc-v1 share a logical id"):
        sam_template.render([_manifest("a-bc-v1"), _manifest("ab-c-v1")])


def test_a_permission_it_cannot_write_is_refused() -> None:
    odd = _manifest("x-v1", permissions=[{"action": "s3:PutObject", "function": "FinishFunction"}])
    with pytest.raises(CompileError, match="no policy is generated for action 's3:PutObject'"):
        sam_template.render([odd])
    sneaky = _manifest("x-v1", substitutions={"AArn": {"Fn::GetAtt": ["A}\n  Evil: {", "Arn"]}})
    with pytest.raises(CompileError, match="is not a CloudFormation logical id"):
        sam_template.render([sneaky])


def test_a_template_without_markers_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n", encoding="utf-8")
    assert main(["template", "--statemachines", str(ROOT / "statemachines"), "--template", str(template)]) == 1
    assert capsys.readouterr().err.startswith(f"{template}:1:1: error: needs exactly one `# BEGIN generated")
    assert template.read_text(encoding="utf-8") == "Resources: {}\n"
    assert main(["template", "--statemachines", str(tmp_path / "nope"), "--template", str(ROOT / "template.yaml")]) == 1
    assert "nope:1:1: error: no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compile", "template", "validate", "graph", "preview"])
def test_every_command_has_a_description_and_an_example(command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "dsl_compiler", command, "--help"],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    usage, description, *rest = result.stdout.split("\n\n")
    assert usage.startswith(f"usage: python -m dsl_compiler {command}")
    assert len(description.split()) > 8
    assert f"examples:\n  python -m dsl_compiler {command} " in result.stdout
