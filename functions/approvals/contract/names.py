"""Names a compiled machine and its handlers must agree on, each written once: the errors a
handler's token completion raises in the machine, the runtime functions' logical ids, how a
machine and an action's result are named (docs/state-machine-contract.md)."""

from __future__ import annotations

from enum import StrEnum

# The runtime functions every machine calls (logical ids in template.yaml).
OPEN_STEP_FUNCTION = "OpenStepFunction"
NOTIFY_FUNCTION = "NotifyFunction"
STEP_TIMED_OUT_FUNCTION = "StepTimedOutFunction"
FINISH_FUNCTION = "FinishFunction"


class ApprovalError(StrEnum):
    """Errors a settled step's token fails with; the machine's Catch rules route on them."""

    REJECTED = "Approval.Rejected"
    WITHDRAWN = "Approval.Withdrawn"
    FAILED = "Approval.Failed"


# `Approval.Returned.<step>`: the step was returned to `<step>` (or to the requester).
RETURNED_PREFIX = "Approval.Returned."
# The error of an action that failed inside a parallel branch: `Action.Failed.<result key>`.
ACTION_FAILED_PREFIX = "Action.Failed."
# The step id a return to the requester names.
RESUBMIT_STEP = "requester"
# What a run keeps for FinishFunction, each under its own key of the state: action results, action
# errors, compensation errors, what Parallels kept, the error that ended the run. The execution input
# starts each empty (`run_kept_start`), so that Finish's Parameters find every one whatever the run did.
RUN_KEPT = ("actions", "failures", "compensation_failures", "parallel", "error")


def run_kept_start() -> dict[str, dict[str, object] | None]:
    return {kept: None if kept == "error" else {} for kept in RUN_KEPT}


def returned_error(to_step: str) -> str:
    return f"{RETURNED_PREFIX}{to_step}"


def action_failed_error(step_id: str) -> str:
    return f"{ACTION_FAILED_PREFIX}{result_key(step_id)}"


def machine_name(flow: str, version: int) -> str:
    """One machine per flow version."""
    return f"{flow}-v{version}"


def result_key(step_id: str) -> str:
    """Key of an action's result in the execution state (JSONPath-safe: `-` becomes `_`)."""
    return step_id.replace("-", "_")
