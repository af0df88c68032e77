"""template.yaml agrees with the compiled machines and with the code: every `${XArn}` a machine
uses is substituted and invocable, nothing more; every Handler exists. Plus the pure parts of
the local deployer (time scaling, substitutions)."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.deploy import load_template, scale_times, substitute

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
MACHINES = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::StateMachine"}
RUNTIME = {
    "OpenStepFunction": "approvals.handlers.open_step.handler",
    "NotifyFunction": "approvals.handlers.notify.handler",
    "StepTimedOutFunction": "approvals.handlers.step_timed_out.handler",
    "FinishFunction": "approvals.handlers.finish.handler",
    "ApiFunction": "approvals.handlers.api.handler",
    "StartFunction": "approvals.handlers.start.handler",
    "SweepFunction": "approvals.handlers.sweep.handler",
    "ExecutionEndedFunction": "approvals.handlers.execution_ended.handler",
}
SAMPLES = ["CreatePurchaseOrder", "CancelPurchaseOrder", "NotifyVendor", "IssuePayout", "GrantAccess",
           "RevokeAccess", "SignContract", "VoidContract"]


def test_one_machine_per_compiled_flow_version() -> None:
    """Every version in statemachines/ is deployed (older ones finish their running approvals),
    and so is the current version of every example flow."""
    flows = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "flows").glob("*.yaml"))
             if p.name != "directory.yaml"]
    compiled = {json.loads(p.read_text())["state_machine"] for p in (ROOT / "statemachines").glob("*.manifest.json")}
    assert {m["Name"] for m in MACHINES.values()} == compiled
    assert {f"{f['flow']}-v{f['version']}" for f in flows} <= compiled
    for props in MACHINES.values():
        assert props["DefinitionUri"] == f"statemachines/{props['Name']}.asl.json"


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_machine_gets_exactly_the_functions_it_calls(logical_id: str) -> None:
    props = MACHINES[logical_id]
    asl = (ROOT / props["DefinitionUri"]).read_text()
    manifest = json.loads((ROOT / "statemachines" / f"{props['Name']}.manifest.json").read_text())
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl))
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == placeholders
    for key, value in substitutions.items():
        assert value == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}
        assert RESOURCES[key.removesuffix("Arn")]["Type"] == "AWS::Serverless::Function"
    assert props["Policies"][0] == {"Ref": "StateMachineLoggingPolicy"}  # logs and traces, no invoke
    invocable = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"][1:]}
    assert invocable == set(manifest["functions"]) == {k.removesuffix("Arn") for k in placeholders}


def test_functions_and_handlers() -> None:
    functions = {lid: r["Properties"] for lid, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(RUNTIME) | set(SAMPLES)
    assert TEMPLATE["Globals"]["Function"]["CodeUri"] == "functions/"
    for lid, handler in RUNTIME.items():
        assert functions[lid]["Handler"] == handler
    for lid in SAMPLES:
        assert functions[lid]["Handler"] == "approvals.samples.handler"
        assert functions[lid]["Environment"]["Variables"]["ACTION_NAME"] == lid
    for props in functions.values():
        module, _, name = props["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_table_has_ttl_and_is_on_demand() -> None:
    table = RESOURCES["ApprovalsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_scale_times_divides_durations_but_not_below_one_second() -> None:
    definition = {
        "StartAt": "a",
        "States": {
            "a": {"Type": "Task", "TimeoutSeconds": 259200, "HeartbeatSeconds": 60, "Next": "w",
                  "Parameters": {"Payload": {"spec": {"timeout_seconds": 259200, "remind_seconds": [86400, 1]}}},
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}]},
            "w": {"Type": "Wait", "Seconds": 3600, "Next": "p"},
            "p": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "b", "States": {"b": {"Type": "Task", "TimeoutSeconds": 7200, "End": True}}}]},
        },
    }
    scaled = scale_times(definition, 3600)
    a = scaled["States"]["a"]
    assert (a["TimeoutSeconds"], a["HeartbeatSeconds"], a["Retry"][0]["IntervalSeconds"]) == (72, 1, 1)
    assert a["Retry"][0]["MaxAttempts"] == 3  # counts are not durations
    assert a["Parameters"]["Payload"]["spec"] == {"timeout_seconds": 72, "remind_seconds": [24, 1]}
    assert scaled["States"]["w"]["Seconds"] == 1
    assert scaled["States"]["p"]["Branches"][0]["States"]["b"]["TimeoutSeconds"] == 2
    assert definition["States"]["a"]["TimeoutSeconds"] == 259200  # the input is left alone


def test_substitute_refuses_unknown_placeholders() -> None:
    assert substitute('{"f": "${AArn}"}', {"AArn": "arn:a"}) == '{"f": "arn:a"}'
    with pytest.raises(KeyError):
        substitute('{"f": "${BArn}"}', {"AArn": "arn:a"})
