"""Deploy template.yaml into moto: the same template as on AWS, minus what moto cannot do.

1. Load the SAM template (CloudFormation tags via samtranslator's intrinsic constructor).
2. Inline each state machine's definition for the transform, zip functions/ to S3 and point
   every CodeUri at it, drop SAM `Api` events (moto's API Gateway cannot take them).
3. samtranslator transform (bundled managed-policy map: no IAM call), then take the
   `AWS::StepFunctions::StateMachine` resources out: CloudFormation would create them in moto's
   non-executing backend and would not apply `DefinitionSubstitutions`. Asymmetric KMS keys are
   taken out too and created through the KMS API (moto's CloudFormation makes every key a
   symmetric encryption key, which cannot sign); what referred to them gets their id and ARN.
4. create_stack, wait for CREATE_COMPLETE; then give a bucket declared with Object Lock its
   versioning and lock configuration (moto's CloudFormation sets neither).
5. Create each state machine through the stepfunctions API (the executing backend when moto's
   config says so) with substitutions resolved from the stack and times divided by
   `time_scale` (the file on disk is never changed).
6. Seed the tenant directory from flows/directory.yaml.
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import intrinsics_multi_constructor

ROOT = Path(__file__).resolve().parent.parent
SAM_STATE_MACHINE = "AWS::Serverless::StateMachine"
SAM_FUNCTION = "AWS::Serverless::Function"
# moto's API Gateway ignores the OpenAPI body SAM generates and refuses an API without methods:
# the local gateway (local/gateway.py) serves the API instead.
SAM_APIS = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")
# Parameters without a default that the local stack fills in (nothing local reads them).
LOCAL_PARAMETERS = {"UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_local"}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus `!Ref`, `!GetAtt`, `!Sub`...; a subclass, so the global SafeLoader stays untouched."""


_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=_CfnLoader))  # a SafeLoader subclass: no arbitrary objects


class _BundledPolicies:
    """samtranslator's managed-policy loader interface, answered from its bundled map."""

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map("aws") or {})


# --- time scaling ---------------------------------------------------------------------

_STATE_TIME_KEYS = ("TimeoutSeconds", "HeartbeatSeconds")
_RETRY_TIME_KEYS = ("IntervalSeconds", "MaxDelaySeconds")


def _scaled(value: Any, scale: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return max(1, round(value / scale))


def scale_times(definition: dict[str, Any], scale: float) -> dict[str, Any]:
    """A copy of an ASL definition with every duration divided by `scale` (at least 1 s): Task
    timeouts and heartbeats, Wait seconds, Retry intervals, and the `timeout_seconds` /
    `remind_seconds` the runtime is told (so stored deadlines match the scaled run)."""
    result = copy.deepcopy(definition)
    if scale == 1:
        return result

    def walk_payload(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "timeout_seconds":
                    node[key] = _scaled(value, scale)
                elif key == "remind_seconds" and isinstance(value, list):
                    node[key] = [_scaled(v, scale) for v in value]
                else:
                    walk_payload(value)
        elif isinstance(node, list):
            for item in node:
                walk_payload(item)

    def walk_states(states: Mapping[str, Any]) -> None:
        for state in states.values():
            for key in _STATE_TIME_KEYS:
                if key in state:
                    state[key] = _scaled(state[key], scale)
            if state.get("Type") == "Wait" and "Seconds" in state:
                state["Seconds"] = _scaled(state["Seconds"], scale)
            for retrier in state.get("Retry", []):
                for key in _RETRY_TIME_KEYS:
                    if key in retrier:
                        retrier[key] = _scaled(retrier[key], scale)
            walk_payload(state.get("Parameters"))
            for branch in state.get("Branches", []):
                walk_states(branch.get("States", {}))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk_states(processor.get("States", {}))

    walk_states(result.get("States", {}))
    return result


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Apply DefinitionSubstitutions (`${Name}`); an unknown placeholder is an error, as on AWS."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no DefinitionSubstitutions entry for ${{{name}}}")
        return values[name]

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, text)


# --- what moto's CloudFormation leaves out ----------------------------------------------


def _replace_references(node: Any, ids: Mapping[str, tuple[str, str]]) -> Any:
    """`node` with every Ref / GetAtt Arn / Fn::Sub reference to a logical id of `ids` (logical id
    -> (physical id, ARN)) replaced by the value."""
    if isinstance(node, list):
        return [_replace_references(item, ids) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in ids:
        return ids[node["Ref"]][0]
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        logical_id, _, attribute = (target.partition(".") if isinstance(target, str)
                                    else (target[0], ".", target[1]))
        if logical_id in ids and attribute == "Arn":
            return ids[logical_id][1]
    if set(node) == {"Fn::Sub"}:
        body = node["Fn::Sub"]
        text = body if isinstance(body, str) else body[0]
        for logical_id, (physical, arn) in ids.items():
            text = text.replace(f"${{{logical_id}.Arn}}", arn).replace(f"${{{logical_id}}}", physical)
        rest = [] if isinstance(body, str) else [_replace_references(v, ids) for v in body[1:]]
        return {"Fn::Sub": text if isinstance(body, str) else [text, *rest]}
    return {key: _replace_references(value, ids) for key, value in node.items()}


def create_asymmetric_keys(template: dict[str, Any], client: Callable[[str], Any]) -> dict[str, tuple[str, str]]:
    """Create the template's signing keys through KMS (moto's CloudFormation would make them
    symmetric), take them out of `template` and point what referred to them at the keys made.
    Returns logical id -> (key id, key ARN). The key policy is not applied (moto checks none)."""
    resources = template["Resources"]
    made: dict[str, tuple[str, str]] = {}
    for logical_id, resource in list(resources.items()):
        props = resource.get("Properties") or {}
        if resource["Type"] != "AWS::KMS::Key" or props.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT":
            continue
        meta = client("kms").create_key(KeySpec=str(props.get("KeySpec")), KeyUsage=str(props["KeyUsage"]),
                                        Description=f"local stack: {logical_id}")["KeyMetadata"]
        made[logical_id] = (str(meta["KeyId"]), str(meta["Arn"]))
        del resources[logical_id]
    if made:
        for section in ("Resources", "Outputs"):
            if section in template:
                template[section] = _replace_references(template[section], made)
    return made


def _parameter_value(value: Any, parameters: Mapping[str, str], declared: Mapping[str, Any]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = str(value["Ref"])
        return str(parameters.get(name, declared.get(name, {}).get("Default")))
    return str(value)


def lock_buckets(template: Mapping[str, Any], resources: Mapping[str, str], client: Callable[[str], Any],
                 parameters: Mapping[str, str]) -> None:
    """Versioning and Object Lock (with its default retention) for the buckets that declare it
    (an `ObjectLockConfiguration` with `ObjectLockEnabled: Enabled`; a local bucket is always new)."""
    s3 = client("s3")
    declared = template.get("Parameters") or {}
    for logical_id, resource in template["Resources"].items():
        lock = (resource.get("Properties") or {}).get("ObjectLockConfiguration") or {}
        if resource["Type"] != "AWS::S3::Bucket" or lock.get("ObjectLockEnabled") != "Enabled":
            continue
        s3.put_bucket_versioning(Bucket=resources[logical_id], VersioningConfiguration={"Status": "Enabled"})
        config: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        retention = (lock.get("Rule") or {}).get("DefaultRetention")
        if retention:
            config["Rule"] = {"DefaultRetention": {
                "Mode": _parameter_value(retention["Mode"], parameters, declared),
                **{unit: int(_parameter_value(retention[unit], parameters, declared))
                   for unit in ("Days", "Years") if unit in retention},
            }}
        s3.put_object_lock_configuration(Bucket=resources[logical_id], ObjectLockConfiguration=config)


# --- deployment -----------------------------------------------------------------------


@dataclass
class Deployment:
    stack_name: str
    resources: dict[str, str]  # logical id -> physical id
    function_arns: dict[str, str]  # logical id -> ARN
    state_machines: dict[str, str]  # name -> ARN
    table_name: str
    bus_name: str
    archive_bucket: str
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> deployed (scaled) ASL
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    outputs: dict[str, str] = field(default_factory=dict)  # the stack's outputs


def _zip_functions(functions_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(functions_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(functions_dir).as_posix())
    return buffer.getvalue()


def _definition_path(uri: Any, root: Path, statemachines_dir: Path | None) -> Path:
    path = Path(str(uri))
    if statemachines_dir is not None:
        return statemachines_dir / path.name
    return path if path.is_absolute() else root / path


def prepare(
    template: dict[str, Any],
    code_location: dict[str, str],
    root: Path,
    statemachines_dir: Path | None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """The SAM template as moto can take it, the state machines to create by hand (logical id ->
    properties with the definition text), and the machines skipped for a missing definition."""
    template = copy.deepcopy(template)
    resources = template["Resources"]
    machines: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for logical_id, resource in list(resources.items()):
        props = resource.setdefault("Properties", {})
        if resource["Type"] == SAM_FUNCTION:
            if "CodeUri" in props:
                props["CodeUri"] = code_location
            events = props.get("Events") or {}
            for name in [n for n, e in events.items() if e.get("Type") in ("Api", "HttpApi")]:
                del events[name]  # served by the local gateway instead
        elif resource["Type"] in SAM_APIS:
            del resources[logical_id]
            for output in [k for k, v in (template.get("Outputs") or {}).items() if logical_id in json.dumps(v)]:
                del template["Outputs"][output]  # e.g. ApiUrl: the local gateway has its own
        elif resource["Type"] == SAM_STATE_MACHINE:
            path = _definition_path(props.get("DefinitionUri"), root, statemachines_dir)
            if not path.is_file():
                skipped[str(props.get("Name", logical_id))] = f"{path} does not exist (run `make compile`)"
                del resources[logical_id]
                continue
            text = path.read_text(encoding="utf-8")
            machines[logical_id] = {**props, "DefinitionText": text}
            # The transform still builds the machine's role and policies from the real properties.
            props.pop("DefinitionUri", None)
            props["Definition"] = json.loads(text)
            props.pop("DefinitionSubstitutions", None)
    globals_fn = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_fn:
        globals_fn["CodeUri"] = code_location
    return template, machines, skipped


def _extra_machines(
    statemachines_dir: Path | None, machines: Mapping[str, Mapping[str, Any]], role: str | None,
) -> dict[str, dict[str, Any]]:
    """Machines compiled into `statemachines_dir` that template.yaml does not name (flows written
    for a test, e.g. tests/integration/flows/), as the template would declare them: their
    manifest's substitutions, the role of one of the template's machines (moto checks no policy)."""
    if statemachines_dir is None or role is None:
        return {}
    named = {str(props.get("Name")) for props in machines.values()}
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(statemachines_dir.glob("*.manifest.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        name = str(manifest["state_machine"])
        if name not in named:
            text = (statemachines_dir / str(manifest["definition"])).read_text(encoding="utf-8")
            found[f"Extra{name}"] = {"Name": name, "DefinitionText": text, "RoleOf": role,
                                     "DefinitionSubstitutions": manifest.get("substitutions") or {}}
    return found


def _wait_for_stack(cfn: Any, stack_name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return
        if status.endswith("FAILED") or status.startswith("ROLLBACK") or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                       if e.get("ResourceStatusReason")]
            raise RuntimeError(f"stack {stack_name} ended {status}: {reasons[:5]}")
        time.sleep(0.2)


def _resolve_value(value: Any, resources: Mapping[str, str], arns: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return resources[value["Ref"]]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn" and logical_id in arns:
            return arns[logical_id]
    raise ValueError(f"cannot resolve substitution value {value!r} locally")


def deploy(
    client: Callable[[str], Any],
    *,
    root: Path = ROOT,
    stack_name: str = "approvals-local",
    time_scale: float = 1.0,
    parameters: Mapping[str, str] | None = None,
    statemachines_dir: Path | None = None,
    directory_file: Path | None = None,
) -> Deployment:
    """Deploy `root/template.yaml`; `client(service)` returns a boto3 client for the target moto."""
    template = load_template(root / "template.yaml")

    s3 = client("s3")
    bucket = f"{stack_name}-artifacts"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="functions.zip", Body=_zip_functions(root / "functions"))
    sam_template, machines, skipped = prepare(
        template, {"Bucket": bucket, "Key": "functions.zip"}, root, statemachines_dir
    )
    declared = template.get("Parameters", {})
    parameters = {**{k: v for k, v in LOCAL_PARAMETERS.items() if k in declared}, **(parameters or {})}
    transformed = transform(sam_template, parameters, _BundledPolicies())
    keys = create_asymmetric_keys(transformed, client)
    machine_roles: dict[str, str] = {}
    for logical_id in machines:
        machine_roles[logical_id] = f"{logical_id}Role"
        transformed["Resources"].pop(logical_id, None)

    cfn = client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(transformed),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    _wait_for_stack(cfn, stack_name)
    resources: dict[str, str] = {}
    types: dict[str, str] = {}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
            types[summary["LogicalResourceId"]] = summary["ResourceType"]
    lock_buckets(transformed, resources, client, parameters)
    for logical_id, (key_id, _) in keys.items():
        resources[logical_id] = key_id
        types[logical_id] = "AWS::KMS::Key"

    lam = client("lambda")
    function_arns = {
        lid: lam.get_function(FunctionName=physical)["Configuration"]["FunctionArn"]
        for lid, physical in resources.items()
        if types[lid] == "AWS::Lambda::Function"
    }
    iam = client("iam")
    sfn = client("stepfunctions")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get(
        "Outputs", [])}
    deployment = Deployment(
        stack_name=stack_name, resources=resources, function_arns=function_arns, state_machines={},
        table_name=outputs["TableName"], bus_name=outputs["EventBusName"],
        archive_bucket=outputs["ArchiveBucketName"], skipped=skipped, outputs=outputs,
    )
    machines.update(_extra_machines(statemachines_dir, machines, next(iter(machine_roles.values()), None)))
    for logical_id, props in machines.items():
        values = {k: _resolve_value(v, resources, function_arns)
                  for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
        definition = scale_times(json.loads(substitute(props["DefinitionText"], values)), time_scale)
        role_arn = iam.get_role(RoleName=resources[machine_roles.get(logical_id) or props["RoleOf"]])["Role"]["Arn"]
        name = str(props.get("Name") or logical_id)
        created = sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=role_arn, type=props.get("Type", "STANDARD")
        )
        deployment.state_machines[name] = created["stateMachineArn"]
        deployment.definitions[name] = definition

    seed_directory(client, deployment.table_name, directory_file or root / "flows" / "directory.yaml")
    return deployment


def seed_directory(client: Callable[[str], Any], table_name: str, path: Path) -> None:
    from approvals.adapters.store import Store

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    Store(table_name=table_name, client=client("dynamodb")).put_directory(str(doc["tenant"]), doc)
