"""Events EventBridge refused before (SweepFunction): put them again."""

from __future__ import annotations

import json

from ..clock import iso
from ..wiring import Runtime, default_runtime


def sweep_outbox(*, rt: Runtime | None = None) -> int:
    """Publish the events EventBridge refused when they happened (runtime.emit), then drop them;
    one refused again stays for the next sweep. Returns how many were published."""
    rt = rt or default_runtime()
    published = 0
    for item in rt.store.pending_outbox(iso(rt.now())):
        try:
            rt.events.put(str(item["detail_type"]), json.loads(str(item["detail"])))
        except Exception:
            continue  # still refused: the next sweep tries again
        rt.store.delete_outbox(item)
        published += 1
    return published
