"""Starting an approval's execution, named by the approval id (so nothing starts twice)."""

from __future__ import annotations

from ..domain import Approval
from ..unit_of_work.logs import approval_keys, log
from ..wiring import Runtime


def state_machine_name(flow: str, version: int) -> str:
    return f"{flow}-v{version}"


def start_execution(rt: Runtime, approval: Approval) -> bool:
    """Start the approval's execution, named with its id (so at most one ever runs), and drop its
    pending mark. False, the mark kept for the sweep, when Step Functions refused."""
    payload = {
        "approval_id": approval.id, "tenant": approval.tenant, "flow": approval.flow,
        "flow_version": approval.flow_version, "requester": approval.requester, "input": approval.input,
    }
    try:
        rt.sfn.start(state_machine_name(approval.flow, approval.flow_version), approval.id, payload)
    except Exception:
        log.exception("execution of %s not started; the sweep retries", approval.id,
                      extra=approval_keys(approval.tenant, approval.id))
        return False
    rt.store.mark_started(approval.tenant, approval.id)
    return True
