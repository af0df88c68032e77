"""The archive document of a finished approval: one gzip JSON document, keyed for Athena
(`tenant=/flow=/date=`), checked against the audit trail's hash chain. Plain Python: S3 sits in
adapters/archive_store.py; `python -m approvals.archive verify FILE|s3://bucket/key` checks one.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .audit import event_hash

FORMAT = 1


@dataclass(frozen=True)
class BrokenLink:
    """The first event whose stored hashes do not follow from the one before it."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"broken at event #{self.seq}: {self.reason}"


def archive_key(tenant: str, flow: str, finished_at: str, approval_id: str) -> str:
    """`tenant=acme/flow=leave-request/date=2026-12-01/<id>.json.gz`: partitions Athena can prune."""
    return f"tenant={tenant}/flow={flow}/date={finished_at[:10]}/{approval_id}.json.gz"


def build_document(approval: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "approval": dict(approval), "events": [dict(e) for e in events]}


def encode(document: Mapping[str, Any]) -> bytes:
    # mtime=0: the same approval always archives to the same bytes.
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return gzip.compress(raw, mtime=0)


def decode(blob: bytes) -> dict[str, Any]:
    document = json.loads(gzip.decompress(blob))
    if not isinstance(document, dict) or "events" not in document:
        raise ValueError("not an approval archive")
    return document


def verify_chain(events: Sequence[Mapping[str, Any]], head: str | None = None) -> BrokenLink | None:
    """None when every event's `prev_hash` is the hash before it and its `hash` is what its content
    gives; else the first broken link. `head`, when known, must be the last hash."""
    previous = ""
    for expected_seq, event in enumerate(events, start=1):
        seq = int(event.get("seq", -1))
        if seq != expected_seq:
            return BrokenLink(expected_seq, f"sequence number is {seq}, expected {expected_seq}")
        if event.get("prev_hash") != previous:
            return BrokenLink(seq, "prev_hash does not match the hash of the event before")
        if event_hash(previous, event) != event.get("hash"):
            return BrokenLink(seq, "content does not match its hash (the event was changed)")
        previous = str(event["hash"])
    if head is not None and head != previous:
        return BrokenLink(len(events) + 1, "events are missing after the last one")
    return None
