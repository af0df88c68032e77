"""Stage 5: the manifest: what a compiled machine needs from its deployment."""

from __future__ import annotations

from typing import Any

from approvals.contract.manifest import DEFAULT_RETAIN_SECONDS, MANIFEST_FORMAT, FlowManifestSpec

from .asl import FINISH, NOTIFY, OPEN_STEP, TIMED_OUT, arn
from .durations import parse_duration
from .emit import Emitted
from .ir import ActionNode, ApprovalNode, FlowIR, Stage, WaitNode
from .spec import outcomes_spec, steps_spec

RUNTIME_FUNCTIONS = (OPEN_STEP, NOTIFY, TIMED_OUT, FINISH)


def _events(ir: FlowIR) -> list[str]:
    nodes = ir.walk()
    approvals = [n for n in nodes if isinstance(n, ApprovalNode)]
    events = ["Approval Started", "Step Opened", "Decision Recorded", "Approval Completed"]
    if any(n.remind_seconds for n in approvals) or approvals:
        events.append("Reminder Due")  # the requester may remind (催办) on any open step
    if any(isinstance(n.stage.on_timeout, Stage) for n in approvals):
        events.append("Step Escalated")
    if any(isinstance(n, ActionNode) for n in nodes) or any(ir.on_actions.values()):
        events.append("Action Failed")
    return sorted(events)


def input_schema(ir: FlowIR) -> dict[str, Any]:
    """JSON Schema of the request input: the runtime validates requests against it at start (and at
    resubmission). A field a wait's `until` reads is a `date-time`: the runtime refuses a value that
    the machine's Wait state would fail on."""
    timestamps = {n.until_field for n in ir.walk() if isinstance(n, WaitNode) and n.until_field}
    props: dict[str, Any] = {}
    required = []
    for name, spec in ir.input_fields.items():
        prop: dict[str, Any] = {"type": spec["type"]}
        for key, schema_key in (
            ("enum", "enum"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("default", "default"),
        ):
            if key in spec:
                prop[schema_key] = spec[key]
        if "max_length" in spec:
            prop["maxLength" if spec["type"] == "string" else "maxItems"] = spec["max_length"]
        if "items" in spec:
            prop["items"] = {"type": spec["items"]["type"]}
        if name in timestamps:
            prop["format"] = "date-time"
        props[name] = prop
        if spec.get("required"):
            required.append(name)
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def build_manifest(ir: FlowIR, emitted: Emitted, definition_file: str, source: str) -> dict[str, Any]:
    """The compiled flow the functions read (approvals.contract.manifest), checked against the
    contract's model before it is written. `source` is the flow file, kept for people (and for
    `dsl_compiler upgrade`); no function reads it."""
    functions = sorted(set(emitted.functions))
    manifest = {
        "format": MANIFEST_FORMAT,
        "flow": ir.flow,
        "version": ir.version,
        "title": ir.title,
        "state_machine": ir.name,
        "definition": definition_file,
        "functions": functions,
        "substitutions": {arn(f)[2:-1]: {"Fn::GetAtt": [f, "Arn"]} for f in functions},
        "permissions": [{"action": "lambda:InvokeFunction", "function": f} for f in functions],
        "events": _events(ir),
        "input_schema": input_schema(ir),
        "steps": [s.model_dump(mode="json", exclude_defaults=True) for s in steps_spec(ir.steps)],
        "cc": list(ir.cc),
        "outcomes": {k: v.model_dump(mode="json", exclude_defaults=True) for k, v in outcomes_spec(ir).items()},
        "settings": ir.settings,
        "retain_hot_seconds": parse_duration(str(ir.settings.get("retain_hot"))) or DEFAULT_RETAIN_SECONDS,
        "source": source,
    }
    FlowManifestSpec.model_validate(manifest)  # what the functions will read, read once here
    return manifest
