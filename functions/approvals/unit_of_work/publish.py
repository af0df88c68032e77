"""Publishing the business events of a saved change (docs/api.md, "Events")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clock import iso
from ..contract.events import checked_detail
from ..domain import Approval
from ..wiring import Runtime
from .logs import approval_keys, log


def detail(approval: Approval, step: str | None = None, **extra: Any) -> dict[str, Any]:
    """The fields every business event carries."""
    body: dict[str, Any] = {
        "tenant": approval.tenant,
        "approval_id": approval.id,
        "flow": approval.flow,
        "flow_version": approval.flow_version,
        "step": step,
    }
    body.update(extra)
    return body


def emit(rt: Runtime, detail_type: str, body: Mapping[str, Any]) -> None:
    """Publish a business event after the change it tells of was saved. A refusal does not undo
    or fail that change (a caller's retry would find it done, or start a second approval): the
    event waits in the table's outbox and the sweep publishes it (at least once). The detail is
    checked against its event's model first (approvals.contract.events): what integrators are
    promised is what they get."""
    body = checked_detail(detail_type, dict(body))
    try:
        rt.events.put(detail_type, body)
    except Exception:
        keys = approval_keys(body.get("tenant"), body.get("approval_id"), detail_type=detail_type)
        log.exception("%s for %s not published; kept for the sweep", detail_type, body.get("approval_id"), extra=keys)
        try:
            rt.store.put_outbox(detail_type, body, iso(rt.now()))
        except Exception:
            log.exception("%s for %s is lost: the outbox write failed too", detail_type, body.get("approval_id"),
                          extra=keys)
