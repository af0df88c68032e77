"""Archive a finished approval to S3, then let its table items expire.

Order matters: the S3 write is confirmed before any item gets a TTL, so nothing can expire that is
not archived. The document is sealed and signed before it is written (domain/archive_document.py:
a digest of all of it, signed by the KMS key through the Signer port), so a change made later by
whoever can write the bucket shows. Archiving again is harmless until the TTL is set: the same key
and the same content (the ECDSA signature differs from one signing to the next; the bucket keeps
both versions, each under Object Lock)."""

from __future__ import annotations

from datetime import timedelta

from .. import catalog
from ..contract.manifest import DEFAULT_RETAIN_SECONDS
from ..domain import ApprovalStatus, Conflict, NotFound
from ..domain.archive_document import (
    archive_key,
    build_document,
    document_digest,
    encode,
    finished_at,
    seal,
    with_signature,
)
from ..wiring import Runtime, default_runtime

_EVENT_KEYS = ("seq", "type", "actor", "acting_for", "at", "data", "hash", "prev_hash")


def retain_seconds(flow: str, version: int) -> int:
    """How long the flow keeps a finished approval's items in the table (its `retain_hot`)."""
    entry = catalog.find(flow, version)
    return entry.spec.retain_hot_seconds if entry is not None else DEFAULT_RETAIN_SECONDS


def archive_approval(tenant: str, approval_id: str, *, rt: Runtime | None = None) -> str:
    """Write the approval (item, stages, events) to the archive, signed, then set the TTL. Returns the key."""
    rt = rt or default_runtime()
    items = rt.store.approval_items(tenant, approval_id)
    head = next((i for i in items if i["sk"] == "A"), None)
    if head is None:
        raise NotFound(f"approval {approval_id} not found")
    if head["status"] == ApprovalStatus.RUNNING.value:
        raise Conflict(f"approval {approval_id} is still running")
    expires = rt.now() + timedelta(seconds=retain_seconds(str(head["flow"]), int(head["flow_version"])))
    if head.get("archive_key"):
        # Archived before: an archiver that died after the head's update left the pointer or some
        # TTLs unwritten. expire() finishes them with the key and the TTL already on the head.
        key = str(head["archive_key"])
        rt.store.expire(tenant, approval_id, int(head["revision"]), key, int(expires.timestamp()))
        return key
    key = archive_key(tenant, str(head["flow"]), finished_at(head), approval_id)
    events = [{k: e.get(k) for k in _EVENT_KEYS} for e in items if e["kind"] == "event"]
    sealed = seal(build_document(head, events, [i for i in items if i["kind"] == "step"]))
    signature = rt.signer.sign(document_digest(sealed))
    rt.archive.put(key, encode(with_signature(sealed, signature)))
    rt.store.expire(tenant, approval_id, int(head["revision"]), key, int(expires.timestamp()))
    return key
