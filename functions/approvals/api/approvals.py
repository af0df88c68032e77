"""Reading: one approval, its audit trail, and the caller's inbox."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path

from ..domain.directory import APPROVAL_ID
from ..queries import approval as approval_query
from ..queries import history as history_query
from ..queries import inbox as inbox_query
from .deps import caller, new_router
from .identity import Caller
from .models import ApprovalOut, History, InboxItem, approval_out, documented

router = new_router()

ApprovalId = Annotated[str, Path(min_length=1, max_length=64, pattern=APPROVAL_ID.pattern)]


@router.get("/approvals/<approval_id>", tags=["approvals"],
            summary="An approval (requester, any past or present assignee, or a tenant admin)",
            responses=documented(200, "the approval", 404))
def get_approval(approval_id: ApprovalId, who: Annotated[Caller, Depends(caller)]) -> ApprovalOut:
    return approval_out(approval_query.get_approval(who.tenant, approval_id, who.user))


@router.get("/approvals/<approval_id>/history", tags=["approvals"],
            summary="The approval's hash-chained audit trail",
            responses=documented(200, "its events, oldest first", 404))
def get_history(approval_id: ApprovalId, who: Annotated[Caller, Depends(caller)]) -> History:
    return History.model_validate(history_query.history(who.tenant, approval_id, who.user))


@router.get("/inbox", tags=["inbox"], summary="Open steps waiting for the caller (or someone they act for)",
            responses=documented(200, "open steps, oldest first"))
def inbox(who: Annotated[Caller, Depends(caller)]) -> list[InboxItem]:
    return [InboxItem.model_validate(item) for item in inbox_query.inbox(who.tenant, who.user)]
