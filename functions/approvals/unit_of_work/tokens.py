"""Completing a settled stage's task token, exactly once, after the write that settled it; and
finishing what a function that died in between left behind."""

from __future__ import annotations

from datetime import timedelta

from ..clock import iso
from ..contract.names import ApprovalError
from ..domain import Approval, Step, StepStatus
from ..unit_of_work.logs import approval_keys, log
from ..wiring import Runtime
from .execution import carried_input
from .ports import TokenGone


def complete_token(rt: Runtime, approval: Approval, stage: Step) -> None:
    """Tell the waiting Task how its stage ended (from its settled status and `signal`), then note
    that it was told (a stage settled with `callback: pending` left over is one whose function died
    in between: calling this again for it is what finishes it). A resubmission hands back the new input."""
    if not stage.task_token:
        return
    try:
        if stage.status is StepStatus.APPROVED and not stage.signal:
            resubmitted = stage.kind == "resubmit"  # the new input, as much of it as the machine carries
            output = carried_input(approval) if resubmitted else {"step": stage.step, "outcome": "approved"}
            rt.sfn.succeed(stage.task_token, output)
        else:
            error = stage.signal or (ApprovalError.WITHDRAWN.value if stage.status is StepStatus.CANCELLED
                                     else ApprovalError.REJECTED.value)
            rt.sfn.fail(stage.task_token, error, f"{stage.step} {stage.status.value}")
        mark = "sent"
    except TokenGone:
        # The Task already timed out or the run ended: the machine has moved on without us.
        log.warning("token of %s/%s stage %s is gone", approval.id, stage.step, stage.stage,
                    extra=approval_keys(approval.tenant, approval.id, step=stage.step, stage=stage.stage))
        mark = "gone"
    rt.store.mark_callback(approval.tenant, approval.id, stage.step, stage.stage, mark)


# A stage settled this recently may still be in the hands of the function that settled it.
LEFTOVER_AFTER = timedelta(seconds=10)


def finish_leftovers(rt: Runtime, approval: Approval) -> int:
    """Complete the tokens of stages that were settled but never told to their Task (the function
    died between the table write and the callback). Called by every request that touches the
    approval and by the scheduled sweep; returns how many it completed."""
    cutoff = iso(rt.now() - LEFTOVER_AFTER)
    done = 0
    for stage in approval.steps:
        if stage.callback == "pending" and stage.task_token and (stage.settled_at or "") <= cutoff:
            complete_token(rt, approval, stage)
            done += 1
    return done
