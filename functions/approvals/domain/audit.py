"""The audit trail: the event a change appends, and the hash chain (each event's hash covers the
one before it and its own content)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def _canonical(value: Any) -> Any:
    # DynamoDB keeps numbers, not their spelling: 1.0 comes back as 1. Hash what survives the round
    # trip, so that an event read back (or archived) verifies against the hash written with it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    body = {k: _canonical(event.get(k)) for k in ("seq", "type", "actor", "acting_for", "at", "data")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """An audit event to append; seq and hashes are filled in by the store."""

    type: str
    actor: str
    data: Mapping[str, Any]
    acting_for: str | None = None


def timeline(events: Iterable[Mapping[str, Any]], stages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The audit events with every decision of `stages` among them as a `Decision Recorded` entry
    (decisions are items of their own, outside the approval's chain: see store.py), by time; a
    decision comes before an event of the same instant (the settlement it caused)."""
    entries = [(str(e["at"]), 1, i, dict(e)) for i, e in enumerate(events)]
    n = len(entries)
    for stage in stages:
        for d in stage.get("decisions") or []:
            entry = {"seq": None, "type": "Decision Recorded", "actor": d["user"], "acting_for": d.get("acting_for"),
                     "at": d["at"], "data": {"step": stage["step"], "stage": stage["stage"],
                                             "decision": d["decision"], "comment": d.get("comment")},
                     "hash": None, "prev_hash": None}
            n += 1
            entries.append((str(d["at"]), 0, n, entry))
    return [entry for *_, entry in sorted(entries, key=lambda e: e[:3])]
