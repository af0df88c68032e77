"""Comment on an approval (recorded in its history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..commands.common import directory_of, event_view
from ..domain import Approval, ApprovalFinished, InvalidInput, NotAllowed
from ..domain.audit import NewEvent
from ..domain.policy import check_visible
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..wiring import Runtime, default_runtime

MAX_COMMENT = 4000


def comment(tenant: str, approval_id: str, user: str, text: str, *, rt: Runtime | None = None) -> dict[str, Any]:
    """A comment by the requester or anyone who is or was on a stage (or stands in for one now), as
    an audit event; returns that event as history shows it. NotFound (404) for whoever may not see
    the approval, NotAllowed (403) for a viewer who takes no part (an admin), InvalidInput (400),
    ApprovalFinished (409) once the approval has finished (its record is archived as it was)."""
    rt = rt or default_runtime()
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a comment needs text", [{"field": "text", "problem": "must be non-empty text"}])
    if len(text) > MAX_COMMENT:
        raise InvalidInput("comment too long", [{"field": "text", "problem": f"at most {MAX_COMMENT} characters"}])
    directory = directory_of(rt, tenant)
    written: dict[str, Any] = {}

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        if approval.completed_at:  # its record is archived as it was: a comment now would be lost
            raise ApprovalFinished(f"approval {approval_id} is finished: comments are closed")
        people = approval.participants_ever()
        acting_for = None
        if user != approval.requester and user not in people:
            sources = [s for s in (directory.acting_for(user, now) if directory else []) if s in people]
            if not sources:
                raise NotAllowed(f"{user} takes no part in approval {approval_id}")
            acting_for = sources[0]
        added = NewEvent("Comment Added", actor=user, acting_for=acting_for, data={"text": text})
        written.update(type=added.type, actor=user, acting_for=acting_for, data=added.data, prev=approval.last_hash)
        return Change(events=[added], publish=[business_event("Comment Added", approval, None, user=user)])

    approval, _ = mutate(rt, tenant, approval_id, change)
    return event_view(approval, written["prev"], written)
