"""What the compiler hands the runtime for a wait's `until` (a `date-time` field in the manifest's
input_schema) and for an outcome's `notify` (its `message` in FinishFunction's payload)."""

from __future__ import annotations

from typing import Any

from dsl_compiler import compile_text
from tests.unit.compiler.test_emit import all_states

FLOW = """\
flow: launch
version: 1
input:
  effective: {type: string, required: true}
  note: {type: string}
steps:
  - id: sign-off
    type: approval
    approvers: {users: [bob]}
    timeout: none
  - {id: hold, type: wait, until: $.effective}
"""


def finish_payload(definition: dict[str, Any]) -> dict[str, Any]:
    """The payload of Finish: its Tasks (the outcome's, the failure's) send the same one."""
    first, *others = [
        s["Parameters"]["Payload"] for s in all_states(definition["States"]).values()
        if s.get("Parameters", {}).get("FunctionName") == "${FinishFunctionArn}"
    ]
    assert all(other == first for other in others)
    return first


def test_a_wait_until_field_is_a_date_time_in_the_input_schema() -> None:
    schema = compile_text(FLOW).manifest["input_schema"]
    assert schema["properties"]["effective"] == {"type": "string", "format": "date-time"}
    assert schema["properties"]["note"] == {"type": "string"}  # a string no wait reads is any text
    assert schema["required"] == ["effective"]


def test_an_outcome_notify_carries_its_message_to_finish() -> None:
    flow = FLOW + """\
on_approved:
  - notify: [{role: hr}]
    message: The launch is approved
  - action: {function: Announce}
  - notify: {users: [kate]}
on_rejected:
  - notify: {role: hr}
on_withdrawn:
  - notify: {role: hr}
    message: Withdrawn, nothing launches
  - notify: {role: legal}
    message: Tell the vendor
  - notify: {role: legal}
    message: Withdrawn, nothing launches
"""
    notify = finish_payload(compile_text(flow).definition)["notify"]
    assert notify == {
        "approved": {"to": [{"role": "hr"}, {"users": ["kate"]}], "message": "The launch is approved"},
        "rejected": {"to": [{"role": "hr"}]},  # no message given: none sent
        # several messages: each once, in order, a line each
        "withdrawn": {"to": [{"role": "hr"}, {"role": "legal"}, {"role": "legal"}],
                      "message": "Withdrawn, nothing launches\nTell the vendor"},
    }


def test_no_outcome_notify_sends_no_notify() -> None:
    assert finish_payload(compile_text(FLOW).definition)["notify"] == {}
