"""Read a finished approval back from the archive, for reads after its table items expired."""

from __future__ import annotations

from typing import Any

from ..domain import Approval, NotFound
from ..domain.archive_document import decode
from ..domain.audit import timeline
from ..domain.records import approval_from, step_from
from ..wiring import Runtime, default_runtime


def load_archived(tenant: str, approval_id: str, *, rt: Runtime | None = None) -> tuple[Approval, list[Any]]:
    """The approval and its events from the archive, for reads after the table items expired."""
    rt = rt or default_runtime()
    key = rt.store.archive_pointer(tenant, approval_id)
    if key is None:
        raise NotFound(f"approval {approval_id} not found")
    document = decode(rt.archive.get(key))
    approval = approval_from(document["approval"])
    if approval.tenant != tenant or approval.id != approval_id:  # keys start with the tenant: a corrupt pointer
        raise NotFound(f"approval {approval_id} not found")
    approval.steps = [step_from(s) for s in document.get("steps") or []]
    return approval, timeline(document["events"], document.get("steps") or [])
