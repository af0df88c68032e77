"""The generated part of template.yaml: one state machine (and its alarm) per compiled manifest,
and the managed policies that let the functions start those machines and complete their tokens.

`python -m dsl_compiler template` reads every `*.manifest.json` in the state-machine folder and
rewrites the lines between the BEGIN/END markers of template.yaml; everything outside them is
written by hand. All machines in the folder are deployed, not only those whose flow file still
exists: an older version keeps its machine so that running approvals finish on the version they
started on (architecture.md, 8).

The text is rendered by hand, not by a YAML dumper: the file is a SAM template read by people,
so it keeps the short `!GetAtt` / `!Ref` forms and a fixed layout, and it is byte-identical from
run to run (everything is sorted).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CompileError, DslError, Location

BEGIN = "# BEGIN generated state machines (make compile)"
END = "# END generated state machines"
INDENT = "  "  # resources sit two spaces in, under `Resources:`

# Resources and conditions written by hand in template.yaml that every generated machine uses.
LOG_GROUP = "StateMachineLogGroup"
MACHINE_POLICY = "StateMachineLoggingPolicy"
TRACING_CONDITION = "TracingOn"
# Managed policies generated here, attached by hand in template.yaml: starting the machines
# (StartFunction, ApiFunction) and completing their tasks (the runtime functions).
START_POLICY = "StartApprovalMachinesPolicy"
TASKS_POLICY = "CompleteApprovalTaskTokensPolicy"
ALARM_ACTIONS = "!If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_MACHINE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_INVOKE = "lambda:InvokeFunction"


class TemplateError(CompileError):
    """A manifest or template.yaml the generator cannot work with (reported as FILE:LINE:COL)."""

    def __init__(self, file: str, message: str, line: int = 1) -> None:
        super().__init__([DslError(Location(file, line, 1), message)])


def logical_id(state_machine: str) -> str:
    """`leave-request-v1` -> `LeaveRequestV1` (CloudFormation ids are alphanumeric)."""
    return "".join(part[:1].upper() + part[1:] for part in state_machine.split("-"))


def load_manifests(directory: Path) -> list[dict[str, Any]]:
    """Every manifest in `directory`, in file-name order."""
    manifests = []
    for path in sorted(directory.glob("*.manifest.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TemplateError(str(path), f"cannot read manifest: {exc}") from exc
        if not isinstance(manifest, dict):
            raise TemplateError(str(path), "a manifest is a JSON object")
        manifests.append(manifest)
    return manifests


def _identifier(value: Any, what: str, source: str) -> str:
    # Names are pasted into YAML: anything but a plain identifier could change the template's shape.
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise TemplateError(source, f"{what} {value!r} is not a CloudFormation logical id")
    return value


def _intrinsic(value: Any, source: str) -> str:
    """The short form of the only intrinsics a manifest uses."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return f"!Ref {_identifier(value['Ref'], 'Ref', source)}"
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and len(target) == 2:
            return f"!GetAtt {_identifier(target[0], 'GetAtt', source)}.{_identifier(target[1], 'attribute', source)}"
    raise TemplateError(source, f"unsupported substitution value {value!r}")


def _machine(manifest: Mapping[str, Any], definition_dir: str) -> tuple[list[str], list[str]]:
    name = manifest.get("state_machine")
    source = f"{definition_dir}/{name}.manifest.json"
    if not isinstance(name, str) or not _MACHINE_NAME.match(name):
        raise TemplateError(source, f"state_machine {name!r} is not a flow version name")
    definition = manifest.get("definition")
    if definition != f"{name}.asl.json":
        raise TemplateError(source, f"definition {definition!r} should be {name}.asl.json")
    lid = logical_id(name)
    substitutions = manifest.get("substitutions") or {}
    functions = []
    for permission in manifest.get("permissions") or []:
        if permission.get("action") != _INVOKE:
            # Only Lambda invocations are generated; anything else needs a human look at its policy.
            raise TemplateError(source, f"no policy is generated for action {permission.get('action')!r}")
        functions.append(_identifier(permission.get("function"), "function", source))
    lines = [
        f"# {manifest.get('flow')} v{manifest.get('version')}: {definition_dir}/{name}.manifest.json",
        f"{lid}StateMachine:",
        "  Type: AWS::Serverless::StateMachine",
        "  Properties:",
        f"    Name: {name}",
        "    Type: STANDARD",
        f"    DefinitionUri: {definition_dir}/{definition}",
        *(["    DefinitionSubstitutions:"] if substitutions else []),
        *(f"      {_identifier(key, 'substitution', source)}: {_intrinsic(substitutions[key], source)}"
          for key in sorted(substitutions)),
        # Errors only and no execution data: the log is for operators and must not copy approval
        # inputs (personal data) out of the table's tenant boundary.
        "    Logging:",
        "      Level: ERROR",
        "      IncludeExecutionData: false",
        "      Destinations:",
        f"        - CloudWatchLogsLogGroup: {{LogGroupArn: !GetAtt {LOG_GROUP}.Arn}}",
        f"    Tracing: {{Enabled: !If [{TRACING_CONDITION}, true, false]}}",
        "    Policies:",
        f"      - !Ref {MACHINE_POLICY}",
        *(f"      - LambdaInvokePolicy: {{FunctionName: !Ref {f}}}" for f in sorted(set(functions))),
        "",
        # FAILED means an action failed (docs/state-machine-contract.md): business outcomes succeed.
        f"{lid}FailedExecutionsAlarm:",
        "  Type: AWS::CloudWatch::Alarm",
        "  Properties:",
        f"    AlarmDescription: An execution of {name} failed (an action step failed for good).",
        "    Namespace: AWS/States",
        "    MetricName: ExecutionsFailed",
        f"    Dimensions: [{{Name: StateMachineArn, Value: !Ref {lid}StateMachine}}]",
        *_threshold_lines(),
        "",
    ]
    return lines, functions


def _threshold_lines() -> list[str]:
    return [
        "    Statistic: Sum",
        "    Period: 300",
        "    EvaluationPeriods: 1",
        "    Threshold: 1",
        "    ComparisonOperator: GreaterThanOrEqualToThreshold",
        "    TreatMissingData: notBreaching",
        f"    AlarmActions: {ALARM_ACTIONS}",
    ]


def _throttles_alarm(function: str) -> list[str]:
    # A throttled call inside a flow is retried by the machine and may never fail it, so a busy
    # account shows up here first.
    return [
        f"{function}ThrottlesAlarm:",
        "  Type: AWS::CloudWatch::Alarm",
        "  Properties:",
        f"    AlarmDescription: Lambda throttled {function}, which the state machines call.",
        "    Namespace: AWS/Lambda",
        "    MetricName: Throttles",
        f"    Dimensions: [{{Name: FunctionName, Value: !Ref {function}}}]",
        *_threshold_lines(),
        "",
    ]


def _machines_policy(logical: str, description: str, actions: Sequence[str], names: Sequence[str]) -> list[str]:
    # Machine ARNs by name, not !Ref: a function's role must not depend on the machines, whose
    # definitions name the functions (a cycle CloudFormation refuses).
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
    return [
        f"{logical}:",
        "  Type: AWS::IAM::ManagedPolicy",
        "  Properties:",
        f"    Description: {description}",
        "    PolicyDocument:",
        "      Version: \"2012-10-17\"",
        "      Statement:",
        "        - Effect: Allow",
        f"          Action: [{', '.join(actions)}]",
        "          Resource:",
        *(f"            - !Sub {arn}{name}" for name in names),
        "",
    ]


def render(manifests: Sequence[Mapping[str, Any]], definition_dir: str = "statemachines") -> str:
    """The lines between the markers (indented for `Resources:`), ending with a newline."""
    lines: list[str] = []
    called: set[str] = set()
    seen: dict[str, str] = {}
    for manifest in sorted(manifests, key=lambda m: str(m.get("state_machine"))):
        block, functions = _machine(manifest, definition_dir)
        name = str(manifest["state_machine"])
        key = logical_id(name).lower()
        if key in seen:  # `ab-c` and `a-bc` would both be AbC (CloudFormation ids are matched loosely)
            raise TemplateError(f"{definition_dir}/{name}.manifest.json", f"{name} and {seen[key]} share a logical id")
        seen[key] = name
        lines.extend(block)
        called.update(functions)
    for function in sorted(called):
        lines.extend(_throttles_alarm(function))
    names = sorted(str(m["state_machine"]) for m in manifests)
    if names:
        lines.extend(_machines_policy(START_POLICY, "Start an execution of the approval state machines.",
                                      ["states:StartExecution"], names))
        lines.extend(_machines_policy(TASKS_POLICY, "Complete the task tokens of the approval state machines.",
                                      ["states:SendTaskSuccess", "states:SendTaskFailure"], names))
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(f"{INDENT}{line}\n" if line else "\n" for line in lines)


def _marker_lines(text: str, file: str) -> tuple[int, int]:
    lines = text.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.strip().startswith(END)]
    if len(begins) != 1 or len(ends) != 1:
        raise TemplateError(file, f"needs exactly one `{BEGIN}` line and one `{END}` line under Resources")
    if ends[0] < begins[0]:
        raise TemplateError(file, f"`{END}` comes before `{BEGIN}`", ends[0] + 1)
    return begins[0], ends[0]


def update(text: str, block: str, file: str = "template.yaml") -> str:
    """`text` with the lines between the markers replaced by `block` (the markers stay)."""
    begin, end = _marker_lines(text, file)
    lines = text.splitlines(keepends=True)
    return "".join(lines[: begin + 1]) + block + "".join(lines[end:])


def generated(template: Path, statemachines: Path) -> tuple[str, str]:
    """(current text, text it should have) for `template` and the manifests in `statemachines`."""
    text = template.read_text(encoding="utf-8")
    relative = Path(os.path.relpath(statemachines.resolve(), template.resolve().parent)).as_posix()
    return text, update(text, render(load_manifests(statemachines), relative), str(template))
