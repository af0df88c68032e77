"""The vocabulary the emitter writes ASL with: the runtime functions' logical ids, error names,
`${...}` placeholders, state names and an action's input mapping."""

from __future__ import annotations

from typing import Any

State = dict[str, Any]
OPEN_STEP = "OpenStepFunction"
NOTIFY = "NotifyFunction"
TIMED_OUT = "StepTimedOutFunction"
FINISH = "FinishFunction"
RESUBMIT_STEP = "@requester"
# Error of an action failed inside a parallel branch: `Action.Failed.<action key>`.
ACTION_FAILED = "Action.Failed."
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
ROOT = 0


def arn(function: str) -> str:
    """The `${...}` placeholder that DefinitionSubstitutions resolves to a function's ARN."""
    return "${" + function + "Arn}"


def humanize(step_id: str) -> str:
    words = step_id.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return (text[:1].upper() + text[1:])[:60]


def map_input(mapping: dict[str, Any] | None) -> dict[str, Any]:
    """An action's `input`: `$.field` reads the request, anything else is a literal."""
    if mapping is None:
        return {"input.$": "$.input"}
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, str) and value.startswith("$."):
            out[f"{key}.$"] = "$.input." + value[2:]
        else:
            out[key] = value
    return {"input": out}
