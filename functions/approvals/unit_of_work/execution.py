"""Starting an approval's execution, named by the approval id (so nothing starts twice)."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..contract.names import machine_name, run_kept_start
from ..domain import Approval
from ..unit_of_work.logs import approval_keys, log
from ..wiring import Runtime


def carried_input(approval: Approval) -> dict[str, Any]:
    """What of the approval's input its execution carries: only the fields its Choice rules, waits
    and actions read (the rest stays in the table; a state holds at most 256 KiB)."""
    entry = catalog.find(approval.flow, approval.flow_version)
    return dict(approval.input) if entry is None else entry.spec.carried_input(approval.input)


def start_execution(rt: Runtime, approval: Approval) -> bool:
    """Start the approval's execution, named with its id (so at most one ever runs), and drop its
    pending mark. False, the mark kept for the sweep, when Step Functions refused."""
    payload = {
        "approval_id": approval.id, "tenant": approval.tenant, "flow": approval.flow,
        "flow_version": approval.flow_version, "requester": approval.requester, "input": carried_input(approval),
        **run_kept_start(),
    }
    try:
        rt.sfn.start(machine_name(approval.flow, approval.flow_version), approval.id, payload)
    except Exception:
        log.exception("execution of %s not started; the sweep retries", approval.id,
                      extra=approval_keys(approval.tenant, approval.id))
        return False
    rt.store.mark_started(approval.tenant, approval.id)
    return True
