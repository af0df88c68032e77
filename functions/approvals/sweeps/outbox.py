"""Business events left in the outbox (SweepFunction): put them on the bus. A change writes its
events to the outbox with itself and puts them right after; what is still there a minute later
was refused by EventBridge, or its process died in between."""

from __future__ import annotations

import json
from datetime import timedelta

from ..clock import iso
from ..wiring import Runtime, default_runtime

# An event younger than this may still be being put by the change that wrote it.
LEFT_AFTER = timedelta(minutes=1)


def sweep_outbox(*, rt: Runtime | None = None) -> int:
    """Put every event left in the outbox, then drop it; one refused again stays for the next
    sweep. Returns how many were put."""
    rt = rt or default_runtime()
    published = 0
    for item in rt.store.pending_outbox(iso(rt.now() - LEFT_AFTER)):
        try:
            rt.events.put(str(item["detail_type"]), json.loads(str(item["detail"])))
        except Exception:
            continue  # still refused: the next sweep tries again
        rt.store.delete_outbox(item)
        published += 1
    return published
