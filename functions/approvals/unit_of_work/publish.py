"""The business events of a change (docs/api.md, "Events"), published at least once.

A change names its events (`Change.publish`); the store writes them to the outbox in the change's
own transaction, so an event exists exactly when its change does. They are put on the bus right
after the commit and their outbox items deleted; whatever a dead process or a refusal left in the
outbox, the sweep puts later. Each event carries `event_id`, the same on every delivery, so that
consumers can drop repeats. The detail is checked against its event's model when the change is
computed (approvals.contract.events): a detail that does not fit fails the change, not the bus.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..contract.events import checked_detail
from ..domain import Approval
from ..wiring import Runtime
from .logs import approval_keys, log
from .ports import Publication

__all__ = ["Publication", "business_event", "publish"]


def business_event(detail_type: str, approval: Approval, step: str | None = None, **extra: Any) -> Publication:
    """One business event of a change to `approval`, with the fields every event carries."""
    body: dict[str, Any] = {"tenant": approval.tenant, "approval_id": approval.id, "flow": approval.flow,
                            "flow_version": approval.flow_version, "step": step, **extra,
                            "event_id": uuid.uuid4().hex}
    return Publication(detail_type=detail_type, detail=checked_detail(detail_type, body))


def publish(rt: Runtime, publications: Iterable[Publication]) -> int:
    """Put committed events on the bus and drop their outbox items; one the bus refuses stays in the
    outbox for the sweep (never lost, never a failure of the change already saved). Returns how many
    were put."""
    put = 0
    for publication in publications:
        try:
            rt.events.put(publication.detail_type, publication.detail)
        except Exception:
            keys = approval_keys(publication.detail.get("tenant"), publication.detail.get("approval_id"),
                                 detail_type=publication.detail_type)
            log.exception("%s not published; kept for the sweep in the outbox", publication.detail_type,
                          extra=keys)
            continue
        put += 1
        try:
            rt.store.delete_published(publication)
        except Exception:
            # Put already: the sweep will put it again, with the same event_id (consumers drop it).
            log.exception("outbox item of a published %s not deleted", publication.detail_type)
    return put
