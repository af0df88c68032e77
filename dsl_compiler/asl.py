"""The vocabulary the emitter writes ASL with: the runtime functions' logical ids, error names,
`${...}` placeholders, state names and an action's input mapping."""

from __future__ import annotations

from typing import Any

from approvals.contract import names

from .paths import input_path

State = dict[str, Any]
# The names the machine shares with its handlers are the contract's (approvals.contract.names).
OPEN_STEP = names.OPEN_STEP_FUNCTION
NOTIFY = names.NOTIFY_FUNCTION
TIMED_OUT = names.STEP_TIMED_OUT_FUNCTION
FINISH = names.FINISH_FUNCTION
ACTION_FAILED = names.ACTION_FAILED_PREFIX
# A return leaving a Parallel branch (emit_returns.py): the machine's own error name, never a handler's.
RETURNING = "Approval.Returning"
# The `step` of the requester's resubmission Task (not a step id of the flow: those cannot start with @).
RESUBMIT_STEP = "@requester"
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
# A function that crashed, timed out or ran out of memory (Step Functions reports all three so).
# Retried only on the runtime's own Tasks, whose handlers do nothing twice; a flow's action is the
# flow's to retry (`retry:`).
LAMBDA_CRASHED = "Lambda.Unknown"
ROOT = 0
# Where a runtime Task's failure is kept for Finish: the failed approval's reason.
RUNTIME_ERROR = "$.error"


def arn(function: str) -> str:
    """The `${...}` placeholder that DefinitionSubstitutions resolves to a function's ARN."""
    return "${" + function + "Arn}"


def humanize(step_id: str) -> str:
    words = step_id.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return (text[:1].upper() + text[1:])[:60].rstrip()


def map_input(mapping: dict[str, Any] | None) -> dict[str, Any]:
    """An action's `input`: `$.field` reads the request, anything else is a literal. (The validator
    has refused keys ending in `.$`, which Step Functions would read as paths, and unreadable names.)"""
    if mapping is None:
        return {"input.$": "$.input"}
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, str) and value.startswith("$."):
            out[f"{key}.$"] = input_path(value[2:].split("."))
        else:
            out[key] = value
    return {"input": out}
