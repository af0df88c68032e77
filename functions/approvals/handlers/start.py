"""StartFunction: the target of the `Approval Requested` rule, so another system can start an
approval with an event. The approval id comes from the event (or its EventBridge id), and the
execution is named with it: a repeated event starts nothing twice."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.commands.start import start_approval
from approvals.domain import Conflict
from approvals.domain.directory import APPROVAL_ID, NAME
from approvals.handlers._telemetry import count, logger


class ApprovalRequested(BaseModel):
    # Ids as the API would accept them: they become table keys and the execution's name.
    tenant: str = Field(pattern=NAME.pattern)
    flow: str = Field(min_length=1)
    version: int | None = None
    requester: str = Field(pattern=NAME.pattern)
    input: dict[str, Any] = Field(default_factory=dict)
    approval_id: str | None = Field(default=None, pattern=APPROVAL_ID.pattern)


class ApprovalRequestedEvent(EventBridgeModel):
    detail: ApprovalRequested


def approval_id_for(event: ApprovalRequestedEvent) -> str:
    """The caller's id if it gave one, else one derived from the event id (stable on redelivery)."""
    return event.detail.approval_id or uuid.uuid5(uuid.NAMESPACE_URL, f"eventbridge:{event.id}").hex


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=ApprovalRequestedEvent)
def handler(event: ApprovalRequestedEvent, context: LambdaContext) -> dict[str, Any]:
    request = event.detail
    approval_id = approval_id_for(event)
    logger.append_keys(approval_id=approval_id, tenant=request.tenant, flow=request.flow)
    try:
        start_approval(
            request.tenant, request.flow, request.version, request.requester, request.input, approval_id=approval_id
        )
    except Conflict:
        # Delivered twice (EventBridge is at-least-once): the first delivery started it.
        logger.info("approval already started")
        return {"approval_id": approval_id, "started": False}
    count("ApprovalStarted", {"flow": request.flow})  # the same metric as a start through the API
    return {"approval_id": approval_id, "started": True}
