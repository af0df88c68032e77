"""An execution that ended without its Finish: the approval still settles.

A run ends through FinishFunction, which records the outcome, tells who is to be told and archives.
Anything else that ends an execution (a handler that kept failing, a state over 256 KiB, an
operator's StopExecution, the one-year limit of a Standard execution) used to leave its approval
`running` for ever. Step Functions says when an execution ends (`Step Functions Execution Status
Change` on EventBridge, ExecutionEndedFunction); this settles the approval `failed` with the reason,
once, and archives it. An execution that ended through Finish finds the approval settled already.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..archive.write import archive_approval
from ..clock import iso
from ..contract.execution_status import ExecutionStatusChange
from ..domain import Approval, ApprovalStatus, NotFound, StepStatus
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime

# Statuses that end an execution; SUCCEEDED ends it through Finish (which settled the approval).
ENDED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def run_of(execution_input: str | None) -> tuple[str, str] | None:
    """The tenant and approval id of a run, from its execution input (docs/state-machine-contract.md)."""
    try:
        data = json.loads(execution_input or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("tenant") or not data.get("approval_id"):
        return None
    return str(data["tenant"]), str(data["approval_id"])


def reason_of(status: str, error: str | None, cause: str | None) -> str:
    said = ": ".join(part for part in (error, (cause or "")[:300]) if part)
    return f"its execution ended {status.lower().replace('_', ' ')}" + (f" ({said})" if said else "")


def execution_ended(tenant: str, approval_id: str, status: str, reason: str, *,
                    rt: Runtime | None = None) -> dict[str, Any]:
    """Settle the approval of an execution that ended `status` (FAILED, TIMED_OUT, ABORTED): its
    open stages `cancelled` (their tokens died with the run), the approval `failed` with `reason`,
    `Approval Completed` to the requester, the archive. Nothing happens twice, nor for an approval
    already settled (its Finish ran, or this did)."""
    rt = rt or default_runtime()
    if status not in ENDED:
        return {"approval_id": approval_id, "settled": False}

    def change(approval: Approval, now: datetime) -> Change | None:
        if approval.completed_at:
            return None
        at = iso(now)
        cancelled = [replace(s, status=StepStatus.CANCELLED, settled_at=at) for s in approval.open_stages()]
        cc = [approval.requester]
        data = {"outcome": ApprovalStatus.FAILED.value, "cc": cc, "error": reason}
        told = business_event("Approval Completed", approval, None, outcome=ApprovalStatus.FAILED.value, cc=cc,
                              error=reason, requester=approval.requester)
        return Change(steps=[StepWrite(s, expect=frozenset({StepStatus.OPEN})) for s in cancelled],
                      status=ApprovalStatus.FAILED, completed=True, publish=[told],
                      events=[NewEvent("Approval Completed", actor="system", data=data)])

    try:
        approval, planned = mutate(rt, tenant, approval_id, change)
    except NotFound:
        return {"approval_id": approval_id, "settled": False}
    # Also when it was settled already: an earlier call may have died before the archive.
    if approval.completed_at:
        archive_approval(approval.tenant, approval.id, rt=rt)
    return {"approval_id": approval_id, "settled": planned is not None}


def settle_ended_run(change: ExecutionStatusChange, *, rt: Runtime | None = None) -> dict[str, Any]:
    """execution_ended() for a status change event, from the rule or from its retry queue (the
    sweep). An execution without an approval's input is not one of ours: the rule's prefix takes
    in every machine of the account."""
    run = run_of(change.input)
    if run is None:
        return {"approval_id": None, "settled": False}
    tenant, approval_id = run
    return execution_ended(tenant, approval_id, change.status, reason_of(change.status, change.error, change.cause),
                           rt=rt)
