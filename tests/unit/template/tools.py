"""Shared by the template checks: the template after the SAM transform, and the tools that need
venvs of their own (aws-sam-cli and checkov pin boto3 against requirements-dev.txt; see Makefile)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from local.deploy import _BundledPolicies, load_template

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
REGION = "us-east-1"


def tool(path: Path) -> str:
    venv = path.parent.parent.name
    assert path.is_file(), f"{path} is missing: `make test` installs it (or `make {venv}/.installed`)"
    return str(path)


def offline_env(home: Path) -> dict[str, str]:
    """The environment of a machine with no AWS account: no credentials, no profile, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAM_"))}
    return {**env, "HOME": str(home), "SAM_CLI_TELEMETRY": "0", "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")}


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` hands CloudFormation: local CodeUri / DefinitionUri become S3 locations."""
    template = copy.deepcopy(template)
    code = {"Bucket": "artifacts", "Key": "functions.zip"}
    template.get("Globals", {}).get("Function", {})["CodeUri"] = code
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = code
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = {"Bucket": "artifacts", "Key": props["DefinitionUri"]}
    return template


def transformed(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """template.yaml as CloudFormation gets it: samtranslator's transform with the bundled
    managed-policy map, as local/deploy.py runs it (no IAM call, no credentials)."""
    source = packaged(template if template is not None else load_template(TEMPLATE))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)  # the transform asks boto3 for the region
        result = dict(transform(source, {}, _BundledPolicies()))
    for stage in result["Resources"].values():
        api = origin_api(stage)
        metadata = source["Resources"].get(api or "", {}).get("Metadata")
        if metadata:
            # SAM copies an Api's Metadata onto the RestApi only; skips for the Stage it generates
            # (caching, access logs) can only be written on that same Api, so they go along.
            stage["Metadata"] = metadata
    return result


def origin_api(resource: dict[str, Any]) -> str | None:
    """The SAM Api a generated `AWS::ApiGateway::Stage` belongs to."""
    if resource.get("Type") != "AWS::ApiGateway::Stage":
        return None
    rest_api = resource.get("Properties", {}).get("RestApiId")
    return str(rest_api["Ref"]) if isinstance(rest_api, dict) and "Ref" in rest_api else None
