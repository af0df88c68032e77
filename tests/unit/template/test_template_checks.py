"""The offline template checks (local-aws.md, "Offline template checks"), each failing with the
tool's own output: cfn-lint, `sam validate --lint`, and checkov on the transformed template
(checkov cannot see the roles and policies SAM writes until the transform has run)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local.deploy import load_template
from tests.unit.template.tools import (
    CHECKOV,
    REGION,
    ROOT,
    SAM,
    TEMPLATE,
    offline_env,
    origin_api,
    tool,
    transformed,
)

CFN_LINT_ERROR = 2  # cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational


def test_cfn_lint_reports_no_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [tool(Path(sys.executable).parent / "cfn-lint"), "--regions", REGION, "--", str(TEMPLATE)],
        cwd=ROOT, env=offline_env(tmp_path), capture_output=True, text=True, check=False,
    )
    assert result.returncode in (0, 4, 8, 12), f"cfn-lint exited {result.returncode}:\n{result.stdout}{result.stderr}"
    assert not result.returncode & CFN_LINT_ERROR


def test_sam_validate_lint_passes_without_credentials(tmp_path: Path) -> None:
    # `--lint` makes sam fail on any cfn-lint match, warnings included.
    result = subprocess.run(
        [tool(SAM), "validate", "--lint", "--region", REGION, "--template-file", str(TEMPLATE)],
        cwd=ROOT, env=offline_env(tmp_path), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"sam validate --lint failed:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("checkov")
    path = folder / "transformed.json"
    path.write_text(json.dumps(transformed(), indent=1), encoding="utf-8")
    result = subprocess.run(
        [tool(CHECKOV), "--file", str(path), "--framework", "cloudformation", "--output", "json",
         "--skip-download", "--soft-fail"],  # soft: the test reads the findings, not the exit code
        cwd=folder, env=offline_env(folder), capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"checkov did not run:\n{result.stdout}{result.stderr}"
    report = json.loads(result.stdout)
    assert report["check_type"] == "cloudformation", report
    return dict(report["results"])


def _finding(check: dict[str, Any]) -> str:
    return f"{check['check_id']} {check['resource']}: {check['check_name']}"


def test_checkov_finds_nothing_on_the_transformed_template(checkov_report: dict[str, Any]) -> None:
    assert len(checkov_report["passed_checks"]) > 100  # it did look at the roles SAM generates
    failed = sorted(_finding(c) for c in checkov_report["failed_checks"])
    assert not failed, "checkov failed checks (fix them, or skip next to the resource with a reason):\n" + "\n".join(
        failed)


def _declared_skips() -> dict[tuple[str, str], str]:
    """(check id, logical id) -> reason, from `Metadata: checkov: skip:` in template.yaml."""
    skips = {}
    for logical_id, resource in load_template(TEMPLATE)["Resources"].items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            skips[(skip["id"], logical_id)] = str(skip.get("comment") or "")
    return skips


def test_every_skip_has_a_reason_and_reaches_checkov_through_the_transform(checkov_report: dict[str, Any]) -> None:
    declared = _declared_skips()
    assert declared, "template.yaml declares no checkov skips: then this test has nothing to prove"
    assert not [key for key, reason in declared.items() if len(reason.split()) < 8], "give every skip a reason"
    resources = transformed()["Resources"]

    def declared_on(resource: str) -> str:  # a Stage's skips are written on its SAM Api
        logical_id = resource.split(".", 1)[1]
        return origin_api(resources[logical_id]) or logical_id

    applied = {(c["check_id"], declared_on(c["resource"])): c["check_result"].get("suppress_comment", "")
               for c in checkov_report["skipped_checks"]}
    # A declared skip checkov did not apply was lost in the transform or is stale: both are wrong.
    assert set(declared) == set(applied), f"declared only: {set(declared) - set(applied)}; " \
                                          f"applied only: {set(applied) - set(declared)}"
    assert all(applied[key] == declared[key] for key in declared)


def test_samconfig_environments_set_only_real_parameters() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    parameters = load_template(TEMPLATE)["Parameters"]
    stacks = set()
    for env in ("default", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        stacks.add(deploy["stack_name"])
        assert config[env]["global"]["parameters"]["region"] == REGION
        assert config[env]["validate"]["parameters"]["lint"] is True
        for pair in deploy["parameter_overrides"].split():
            name, _, value = pair.partition("=")
            assert name in parameters, f"{env}: no parameter {name} in template.yaml"
            assert value in parameters[name].get("AllowedValues", [value]), f"{env}: {pair}"
    assert len(stacks) == 2
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True  # prod shows its change set first
