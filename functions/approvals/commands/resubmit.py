"""The requester resubmits a request returned to them, with a new input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .. import catalog
from ..clock import iso
from ..commands.common import OPEN_ONLY, check_input, directory_of
from ..domain import Approval, ApprovalStatus, Decision, DecisionRecord, Step, StepNotOpen, StepStatus
from ..domain.audit import NewEvent
from ..domain.policy import check_requester, check_visible
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.tokens import complete_token
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def _resubmission(approval: Approval) -> Step:
    stage = next((s for s in approval.open_stages() if s.kind == "resubmit"), None)
    if approval.status is not ApprovalStatus.RUNNING or stage is None:
        raise StepNotOpen(f"approval {approval.id} is not waiting for a resubmission")
    return stage


def resubmit(
    tenant: str, approval_id: str, user: str, input: Mapping[str, Any], *,
    revision: int | None = None, rt: Runtime | None = None,
) -> Approval:
    """The requester sends a corrected input while the resubmission step (`@requester`, after a
    return to the requester) is open; it is validated again and handed to the machine as the new
    `$.input`. Raises NotFound, NotRequester (403), InvalidInput/UnknownUser (400), StepNotOpen (409)."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        check_requester(approval, user, "resubmit")
        stage = _resubmission(approval)
        clean = check_input(catalog.get(approval.flow, approval.flow_version), input, approval.requester, directory)
        at = iso(now)
        record = DecisionRecord(user=user, decision=Decision.APPROVE, at=at, actor=user, comment="resubmitted")
        updated = replace(stage, status=StepStatus.APPROVED, settled_at=at, callback="pending", signal=None,
                          outcome="resubmitted", decisions=[*stage.decisions, record])
        data = {"step": stage.step, "stage": stage.stage, "input": clean}
        return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], input=clean, result=updated,
                      events=[NewEvent("Resubmitted", actor=user, data=data)],
                      publish=[business_event("Resubmitted", approval, stage.step, requester=user)])

    approval, planned = mutate(rt, tenant, approval_id, change, revision=revision)
    assert planned is not None
    complete_token(rt, approval, planned.result)
    return approval
