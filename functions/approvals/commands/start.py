"""Start an approval (the API's POST /flows/{flow}/approvals, and `Approval Requested` events)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .. import catalog
from ..clock import iso
from ..commands.common import check_input, directory_of
from ..domain import Approval
from ..domain.audit import NewEvent
from ..unit_of_work.execution import start_execution
from ..unit_of_work.publish import business_event, publish
from ..wiring import Runtime, default_runtime


def start_approval(
    tenant: str,
    flow: str,
    version: int | None,
    requester: str,
    input: Mapping[str, Any],
    *,
    approval_id: str | None = None,
    rt: Runtime | None = None,
) -> str:
    """Validate the input against the flow's manifest (defaults filled in), write the approval,
    then start its execution named with the approval id (so a repeated start cannot run the flow
    twice). `version=None` is the latest in the catalog. Raises UnknownFlow (404), InvalidInput /
    UnknownUser with details (400), ApprovalExists (409) for an id already used."""
    rt = rt or default_runtime()
    entry = catalog.get(flow, version)
    directory = directory_of(rt, tenant)
    clean = check_input(entry, input, requester, directory)
    number = entry.version
    approval_id = approval_id or uuid.uuid4().hex
    now = iso(rt.now())
    approval = Approval(
        id=approval_id, tenant=tenant, flow=flow, flow_version=number, requester=requester,
        input=clean, created_at=now, updated_at=now, start_pending=True,
    )
    started = NewEvent("Approval Started", actor=requester, data={"flow": flow, "flow_version": number,
                                                                  "input": clean})
    told = [business_event("Approval Started", approval, None, requester=requester)]
    rt.store.create(approval, [started], outbox=told)
    publish(rt, told)
    # Written, so it will run: if this start fails (or this function dies now) the sweep starts it.
    # Failing the request instead would make the caller's retry a second approval.
    start_execution(rt, approval)
    return approval_id
