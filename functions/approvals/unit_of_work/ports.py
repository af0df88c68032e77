"""What the use cases need of the world, as interfaces: the approvals table, Step Functions, the
event bus, the archive and the key that signs it. The adapters (approvals.adapters, boto3)
implement them for AWS; tests run the use cases on in-memory fakes of the same interfaces
(tests/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain import Approval, ApprovalStatus, Directory, Step
from ..domain.archive_document import Signature
from ..domain.audit import NewEvent
from .writes import StepWrite, Vote


@dataclass(frozen=True)
class Publication:
    """A business event of a change: written to the outbox with the change, put on the bus after it.
    `detail["event_id"]` names it on every delivery."""

    detail_type: str
    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    @property
    def tenant(self) -> str:
        return str(self.detail["tenant"])


class ApprovalStore(Protocol):
    """The approvals table: approvals with their stages and hash-chained events, the inbox index,
    the tenant's directory, the sweeps' work lists, the outbox."""

    def get_directory(self, tenant: str) -> Directory: ...

    def put_directory(self, tenant: str, doc: Mapping[str, Any]) -> None: ...

    def create(self, approval: Approval, events: Sequence[NewEvent] = (),
               outbox: Sequence[Publication] = ()) -> None: ...

    def load(self, tenant: str, approval_id: str) -> Approval: ...

    def history(self, tenant: str, approval_id: str) -> list[dict[str, Any]]: ...

    def commit(self, approval: Approval, at: str, *, steps: Iterable[StepWrite] = (), events: Sequence[NewEvent] = (),
               status: ApprovalStatus | None = None, input: Mapping[str, Any] | None = None,
               completed: bool = False, outbox: Sequence[Publication] = ()) -> None:
        """One change, conditional on `approval.revision` (StaleRevision when it moved on), with its
        business events in the outbox, in one transaction."""
        ...

    def vote(self, approval: Approval, vote: Vote, outbox: Sequence[Publication] = ()) -> None:
        """Count one decision on its stage (writes.Vote) with its business events, in one transaction:
        AlreadyDecided when the participant's decision exists, StaleRevision when the stage moved
        out of the vote's reach (closed, counts at a threshold, decider gone): read again and recompute."""
        ...

    def restore_inbox(self, approval: Approval, stage: Step) -> None:
        """Write the inbox entries of everyone who may decide on `stage` now (again: idempotent)."""
        ...

    def mark_callback(self, tenant: str, approval_id: str, step: str, stage: int, value: str) -> None: ...

    def inbox(self, tenant: str, user: str) -> list[dict[str, Any]]: ...

    def due_stages(self, until: str) -> list[dict[str, Any]]: ...

    def pending_starts(self, until: str) -> list[dict[str, Any]]: ...

    def mark_started(self, tenant: str, approval_id: str) -> None: ...

    def pending_outbox(self, until: str) -> list[dict[str, Any]]: ...

    def delete_outbox(self, item: Mapping[str, Any]) -> None: ...

    def delete_published(self, publication: Publication) -> None:
        """Drop the outbox item of an event just put on the bus."""
        ...

    def pending_callbacks(self, until: str) -> list[dict[str, Any]]: ...

    def approval_items(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        """Every item of an approval as the archive keeps it: the head (`sk` `A`), its stages
        (`kind` `step`) and events (`kind` `event`), plain values."""
        ...

    def expire(self, tenant: str, approval_id: str, revision: int, key: str, expires_at: int) -> None:
        """Note the archive key on the head (conditional on `revision`) and give every item its TTL."""
        ...

    def archive_pointer(self, tenant: str, approval_id: str) -> str | None: ...


class WriteContended(Exception):
    """The store refused a write for contention, not for its condition: another transaction held an
    item it touches, or the table throttled it. Trying the same change again may succeed."""


class TokenGone(Exception):
    """The task token is no longer waiting; the machine already moved on."""


class Workflows(Protocol):
    """Step Functions: start an approval's execution, complete a human step's task token."""

    def start(self, state_machine: str, name: str, payload: Mapping[str, Any]) -> str: ...

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        """Complete the token; TokenGone when it no longer waits."""
        ...

    def fail(self, token: str, error: str, cause: str = "") -> None:
        """Fail the token with `error`; TokenGone when it no longer waits."""
        ...


@dataclass(frozen=True)
class Message:
    """One message of a queue: its body, and the receipt that deletes it."""

    body: str
    receipt: str


class RetryQueue(Protocol):
    """Where deliveries that kept failing wait for the sweep (SQS: the ExecutionEnded rule's
    dead-letter queue). A message received and not deleted comes back later."""

    def receive(self, limit: int) -> list[Message]: ...

    def delete(self, message: Message) -> None: ...


class EventBus(Protocol):
    def put(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


class Archive(Protocol):
    def put(self, key: str, blob: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class Signer(Protocol):
    """The archive's signing key (adapters/signer.py: an asymmetric KMS key the functions may only
    sign with): signs a SHA-256 digest, never sees the document."""

    def sign(self, digest: bytes) -> Signature:
        """The signature of the 32-byte `digest`, with the key id and algorithm that made it."""
        ...
