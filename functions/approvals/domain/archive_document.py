"""The archive document of a finished approval: one gzip JSON document, keyed for Athena
(`tenant=/flow=/date=`), sealed and signed so that whoever can write the bucket cannot change it
unseen. Plain Python: S3 sits in adapters/archive_store.py, the signing key in adapters/signer.py;
`python -m approvals.archive verify FILE|s3://bucket/key` checks one.

Format 2 (written since the archive is signed):

    {"format": 2, "approval": {...}, "steps": [...], "events": [...],
     "seal": {"chain_head": "<hash of the last event>", "fields": {"approval.status": "<digest>", ...}},
     "signature": {"algorithm": "ECDSA_SHA_256", "key_id": "<KMS key ARN>",
                   "digest": "<sha256 hex>", "value": "<base64>"}}

`digest` is the SHA-256 of the canonical JSON (sorted keys, no spaces, ASCII) of the whole document
but its `signature`, so it covers the approval (status, requester, input...), every stage (its
decisions...), every event, and the seal with the chain head; `value` is the signature of those 32
bytes by the key (KMS Sign, MessageType DIGEST). The seal's `fields` hold the first 16 hex digits
of the SHA-256 of each top-level value, each approval field, each stage's fields and each event:
they only name what changed; the digest and the signature are what detect it.

Format 1 (before): `{"format": 1, "approval", "events", "steps"}`, unsigned; only the events are
covered, by their hash chain.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .audit import event_hash

FORMAT = 2
UNSIGNED_FORMAT = 1
FIELD_DIGEST_LENGTH = 16  # hex digits: enough to name a changed field, not what detects the change


class UnreadableArchive(ValueError):
    """The bytes are not an approval archive this code can read (corrupt gzip, not JSON, keys missing)."""


@dataclass(frozen=True)
class Signature:
    """What a Signer returns: the signature of a digest, the key that made it, and its algorithm."""

    value: bytes
    key_id: str
    algorithm: str


@dataclass(frozen=True)
class BrokenLink:
    """The first event whose stored hashes do not follow from the one before it."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"broken at event #{self.seq}: {self.reason}"


@dataclass(frozen=True)
class SignedDigest:
    """A document's signature block, decoded: the digest that was signed and its signature."""

    digest: bytes
    value: bytes
    key_id: str
    algorithm: str


@dataclass
class Inspection:
    """What a document says about itself, before any key is asked: the problems found in it
    (each naming what is broken) and, when it is signed, the signature still to be checked."""

    format: int
    events: int
    problems: list[str] = field(default_factory=list)
    signed: SignedDigest | None = None


def archive_key(tenant: str, flow: str, finished_at: str, approval_id: str) -> str:
    """`tenant=acme/flow=leave-request/date=2026-12-01/<id>.json.gz`: partitions Athena can prune."""
    return f"tenant={tenant}/flow={flow}/date={finished_at[:10]}/{approval_id}.json.gz"


def finished_at(approval: Mapping[str, Any]) -> str:
    """The time the key's date comes from."""
    return str(approval.get("completed_at") or approval.get("updated_at") or "")


def build_document(approval: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                   steps: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    return {"format": FORMAT, "approval": dict(approval), "events": [dict(e) for e in events],
            "steps": [dict(s) for s in steps]}


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def _short_digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:FIELD_DIGEST_LENGTH]


def _step_name(index: int, step: Any) -> str:
    if isinstance(step, Mapping) and "step" in step:
        return f"steps[{step.get('step')}#{step.get('stage')}]"
    return f"steps[{index}]"


def field_digests(document: Mapping[str, Any]) -> dict[str, str]:
    """Path -> short digest of every part of the document but its seal and signature: each
    approval field, each stage's fields, each event, each other top-level value."""
    fields: dict[str, str] = {}
    for key, value in document.items():
        if key in ("seal", "signature"):
            continue
        if key == "approval" and isinstance(value, Mapping):
            fields.update({f"approval.{k}": _short_digest(v) for k, v in value.items()})
        elif key == "steps" and isinstance(value, list):
            for index, step in enumerate(value):
                name = _step_name(index, step)
                if isinstance(step, Mapping):
                    fields.update({f"{name}.{k}": _short_digest(v) for k, v in step.items()})
                else:
                    fields[name] = _short_digest(step)
        elif key == "events" and isinstance(value, list):
            fields.update({f"event #{index}": _short_digest(e) for index, e in enumerate(value, start=1)})
        else:
            fields[key] = _short_digest(value)
    return fields


def seal(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as a reader will decode it (a JSON round trip: what is signed must be what is
    read back), with its seal: the chain head and the field digests."""
    body = json.loads(canonical_json({k: v for k, v in document.items() if k not in ("seal", "signature")}))
    events = body.get("events") or []
    body["seal"] = {"chain_head": str(events[-1].get("hash") or "") if events else "", "fields": field_digests(body)}
    return dict(body)


def document_digest(document: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical JSON of the whole document but its signature block."""
    return hashlib.sha256(canonical_json({k: v for k, v in document.items() if k != "signature"})).digest()


def with_signature(document: Mapping[str, Any], signature: Signature) -> dict[str, Any]:
    """The sealed document with its signature block (the digest is the one `signature` signed)."""
    return {**document, "signature": {
        "algorithm": signature.algorithm, "key_id": signature.key_id,
        "digest": document_digest(document).hex(), "value": base64.b64encode(signature.value).decode("ascii"),
    }}


def encode(document: Mapping[str, Any]) -> bytes:
    # mtime=0: the same document always gives the same bytes.
    return gzip.compress(canonical_json(document), mtime=0)


def decode(blob: bytes) -> dict[str, Any]:
    """The document; UnreadableArchive (one line, no traceback needed) for anything else."""
    try:
        raw = gzip.decompress(blob)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise UnreadableArchive(f"not a gzip file or truncated ({error})") from error
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableArchive(f"not JSON ({error})") from error
    if not isinstance(document, dict):
        raise UnreadableArchive("not an approval archive (not a JSON object)")
    missing = [k for k in ("format", "approval", "events") if k not in document]
    if missing:
        raise UnreadableArchive(f"not an approval archive (no {', '.join(missing)})")
    if not isinstance(document["approval"], dict) or not isinstance(document["events"], list) or not all(
            isinstance(e, dict) for e in document["events"]):
        raise UnreadableArchive("not an approval archive (approval must be an object, events a list of objects)")
    if document["format"] not in (UNSIGNED_FORMAT, FORMAT):
        raise UnreadableArchive(f"unknown archive format {document['format']!r} (this code reads 1 and 2)")
    return document


def verify_chain(events: Sequence[Mapping[str, Any]], head: str | None = None) -> BrokenLink | None:
    """None when every event's `prev_hash` is the hash before it and its `hash` is what its content
    gives; else the first broken link. `head`, when known, must be the last hash. Entries without a
    sequence number (decisions, shown among the events by history) are not links of the chain."""
    previous = ""
    chained = [e for e in events if "seq" not in e or e.get("seq") is not None]
    for expected_seq, event in enumerate(chained, start=1):
        try:
            seq = int(event.get("seq", -1))
        except (TypeError, ValueError):
            seq = -1
        if seq != expected_seq:
            return BrokenLink(expected_seq, f"sequence number is {event.get('seq')!r}, expected {expected_seq}")
        if event.get("prev_hash") != previous:
            return BrokenLink(seq, "prev_hash does not match the hash of the event before")
        if event_hash(previous, event) != event.get("hash"):
            return BrokenLink(seq, "content does not match its hash (the event was changed)")
        previous = str(event["hash"])
    if head is not None and head != previous:
        return BrokenLink(len(chained) + 1, "events are missing after the last one")
    return None


def _signature_block(block: Any) -> SignedDigest | str:
    if not isinstance(block, Mapping):
        return "no signature (a format 2 archive is always signed: it was removed or replaced)"
    try:
        digest = bytes.fromhex(str(block["digest"]))
        value = base64.b64decode(str(block["value"]), validate=True)
        key_id, algorithm = str(block["key_id"]), str(block["algorithm"])
    except (KeyError, ValueError, binascii.Error) as error:
        return f"signature block is malformed ({error!s})"
    return SignedDigest(digest, value, key_id, algorithm)


def _changed_fields(sealed: Mapping[str, Any], now: Mapping[str, str]) -> list[str]:
    problems = [f"{path} was changed" for path in sealed if path in now and now[path] != sealed[path]]
    problems += [f"{path} was removed" for path in sealed if path not in now]
    problems += [f"{path} was added" for path in now if path not in sealed]
    return problems


def inspect(document: Mapping[str, Any], key: str | None = None) -> Inspection:
    """Everything that can be checked without the key: the hash chain, the chain head, the seal's
    field digests, the document digest; and, given the S3 key it was read from, that the key is
    the one this document would be written under (a signed document copied to another approval's
    or tenant's key). The signature itself is left to the caller (`Inspection.signed`)."""
    events = list(document.get("events") or [])
    approval = document.get("approval") or {}
    found = Inspection(format=int(document.get("format") or 0), events=len(events))
    if found.format == UNSIGNED_FORMAT:
        broken = verify_chain(events, approval.get("last_hash"))
        if broken is not None:
            found.problems.append(str(broken))
        if "seal" in document or "signature" in document:  # format 1 never had them: a downgrade
            found.problems.append("format 1 archive with a seal or signature (its format was changed)")
    else:
        raw_seal = document.get("seal")
        seal_block: Mapping[str, Any] = raw_seal if isinstance(raw_seal, Mapping) else {}
        head = seal_block.get("chain_head")
        broken = verify_chain(events, head if isinstance(head, str) else None)
        if broken is not None:
            found.problems.append(str(broken))
        if not seal_block:
            found.problems.append("no seal (a format 2 archive is always sealed: it was removed)")
        elif approval.get("last_hash") != head:
            found.problems.append("approval.last_hash is not the chain head the seal names")
        if isinstance(seal_block.get("fields"), Mapping):
            found.problems += _changed_fields(seal_block["fields"], field_digests(document))
        block = _signature_block(document.get("signature"))
        if isinstance(block, str):
            found.problems.append(block)
        else:
            found.signed = block
            if document_digest(document) != block.digest:
                found.problems.append("the document does not match the digest that was signed (it was changed "
                                      "after it was signed)")
    if key is not None:
        expected = archive_key(str(approval.get("tenant")), str(approval.get("flow")), finished_at(approval),
                               str(approval.get("id")))
        if key != expected:
            found.problems.append(f"the document belongs under {expected}, not under this key (it was copied or moved)")
    return found
