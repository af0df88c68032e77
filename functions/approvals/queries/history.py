"""An approval's audit trail, hash-chained, from the table or the archive."""

from __future__ import annotations

from typing import Any

from ..queries.approval import read_visible
from ..wiring import Runtime, default_runtime


def history(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> dict[str, Any]:
    """`{"source": "table"|"archive", "events": [{"seq", "type", "actor", "acting_for", "at", "data",
    "hash", "prev_hash"}]}`, oldest first; visible as for get_approval (else NotFound)."""
    rt = rt or default_runtime()
    approval, archived = read_visible(tenant, approval_id, user, rt)
    if archived is not None:
        return {"source": "archive", "events": archived}
    return {"source": "table", "events": rt.store.history(tenant, approval_id)}
