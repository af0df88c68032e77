"""Approvals written but not started (SweepFunction): start them, or fail them after an hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..archive.write import archive_approval
from ..clock import iso
from ..domain import Approval, ApprovalStatus, NotFound
from ..domain.audit import NewEvent
from ..unit_of_work.execution import start_execution
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..wiring import Runtime, default_runtime

# An approval written this recently may still be starting in the request that wrote it; one
# whose execution Step Functions kept refusing this long fails (the requester is told).
START_AFTER = timedelta(minutes=1)


START_GIVE_UP = timedelta(hours=1)


def sweep_starts(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled half of "every approval written runs": start the execution of each approval
    written more than a moment ago and never confirmed started (its execution name is its id, so
    one that did start is not started twice); after START_GIVE_UP of refusals, fail it. Returns
    `[{"tenant", "approval_id", "started": bool, "failed": bool}]`."""
    rt = rt or default_runtime()
    now = now or rt.now()
    done: list[dict[str, Any]] = []
    for item in rt.store.pending_starts(iso(now - START_AFTER)):
        tenant, approval_id = str(item["tenant"]), str(item["id"])
        try:
            approval = rt.store.load(tenant, approval_id)
        except NotFound:
            continue
        if not approval.start_pending:
            continue  # the index lags the table
        started = approval.status is ApprovalStatus.RUNNING and start_execution(rt, approval)
        failed = not started and approval.status is ApprovalStatus.RUNNING and (
            approval.created_at <= iso(now - START_GIVE_UP))
        if failed:
            _finish_unstarted(rt, approval, ApprovalStatus.FAILED, "its execution could not be started")
        elif approval.status is ApprovalStatus.WITHDRAWN and not approval.completed_at:
            # Withdrawn before its execution ever ran: no run will finish it, so this does.
            _finish_unstarted(rt, approval, ApprovalStatus.WITHDRAWN, None)
        if started or failed or approval.status is not ApprovalStatus.RUNNING:
            rt.store.mark_started(tenant, approval_id)  # nothing more to start
        done.append({"tenant": tenant, "approval_id": approval_id, "started": started, "failed": failed})
    return done


def _finish_unstarted(rt: Runtime, approval: Approval, outcome: ApprovalStatus, reason: str | None) -> None:
    """What Finish does for a run, for an approval whose run never started: its outcome, the
    requester told (of a failure), the archive."""
    told_of = [approval.requester] if outcome is ApprovalStatus.FAILED else []

    def change(current: Approval, at: datetime) -> Change | None:
        if current.completed_at or (outcome is ApprovalStatus.FAILED and current.status is not ApprovalStatus.RUNNING):
            return None
        data = {"outcome": outcome.value, "cc": told_of, "error": reason}
        told = business_event("Approval Completed", current, None, outcome=outcome.value, cc=told_of,
                              error=reason, requester=current.requester)
        return Change(status=outcome, completed=True, publish=[told],
                      events=[NewEvent("Approval Completed", actor="system", data=data)])

    finished, planned = mutate(rt, approval.tenant, approval.id, change)
    if planned is not None:
        archive_approval(finished.tenant, finished.id, rt=rt)
