"""The audit trail: the event a change appends, and the hash chain (each event's hash covers the
one before it and its own content)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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
