"""In-memory implementations of the ports (approvals.unit_of_work.ports), for running the use cases
without AWS: `MemoryStore` (the approvals table), `MemoryWorkflows` (Step Functions), `MemoryBus`
(EventBridge), `MemoryArchive` (S3), and `memory_runtime()` wiring them with a clock tests move.

MemoryStore keeps what the DynamoDB adapter (approvals/adapters/store.py) does, item for item: it
holds the same items (built by approvals.adapters.store_items, passed through the same DynamoDB
value round trip, so numbers come back as DynamoDB gives them), and each change is one
all-or-nothing "transaction" with the same conditions: the approval's revision (StaleRevision),
a stage's `expect`/`may_create` and `ver` (StaleRevision), new ids (ApprovalExists), a vote's
thresholds (StaleRevision) and its decision item (AlreadyDecided); a wide stage's inbox entries
after its change. The one index (gsi1) is
every item's `gsi1pk`/`gsi1sk`, read as the adapter reads it: the inbox, the reminder, callback,
start and outbox shards. Differences, on purpose: reads are always consistent (the real index is
eventually consistent) and TTL
deletes only when a test says so (`run_ttl`).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from approvals.adapters.store_items import (
    ARCHIVE_POINTER_SK,
    REMIND_SHARDS,
    approval_item,
    approval_pk,
    decision_item,
    directory_pk,
    from_ddb,
    inbox_item,
    inbox_pk,
    inbox_sk,
    sharded,
    stages_from,
    step_item,
    step_sk,
    to_ddb,
)
from approvals.domain import (
    AlreadyDecided,
    Approval,
    ApprovalExists,
    ApprovalStatus,
    Conflict,
    Decision,
    Directory,
    InvalidInput,
    NotFound,
    StaleRevision,
    Step,
    StepStatus,
)
from approvals.domain.audit import NewEvent, event_hash, timeline
from approvals.domain.directory import parse_time
from approvals.domain.records import approval_from, step_from
from approvals.domain.stage import waiting_for
from approvals.unit_of_work.ports import (
    Message,
    Publication,
    TokenGone,  # what approvals.adapters.sfn raises
)
from approvals.unit_of_work.writes import StepWrite, Vote
from approvals.wiring import Runtime
from tests.signing import LocalSigner

__all__ = [
    "ARCHIVE_POINTER_SK",
    "Clock",
    "Completion",
    "Execution",
    "InvalidTransaction",
    "MemoryArchive",
    "MemoryBus",
    "MemoryQueue",
    "MemoryRuntime",
    "MemoryStore",
    "MemoryWorkflows",
    "memory_runtime",
]

Key = tuple[str, str]
Item = dict[str, Any]
# DynamoDB's limit on the items of one TransactWriteItems (store.py's).
MAX_TRANSACTION_ITEMS = 100


class InvalidTransaction(Exception):
    """What DynamoDB refuses outright (a ValidationException, not a cancelled transaction): two
    operations on one item in one transaction, or more than 100 items."""


def _plain(item: Mapping[str, Any]) -> Item:
    """`item` as DynamoDB hands it back: top-level None dropped, numbers through Decimal."""
    return from_ddb(to_ddb(item))


def _put(item: Item) -> Callable[[Item | None], Item | None]:
    return lambda _current: copy.deepcopy(item)


def _delete(_current: Item | None) -> None:
    return None


def _absent(current: Item | None) -> bool:
    return current is None  # attribute_not_exists(pk)


@dataclass
class _Op:
    """One item of a transaction: the new item (None deletes it) from the current one (None: absent),
    allowed only if `condition` (when given) holds for the current one."""

    key: Key
    write: Callable[[Item | None], Item | None]
    condition: Callable[[Item | None], bool] | None = None


class MemoryStore:
    """The approvals table in a dict, keyed (pk, sk) as store.py keys it."""

    def __init__(self) -> None:
        self.items: dict[Key, Item] = {}
        # Called (and dropped) one by one at the start of the next commits, before any condition is
        # checked: another writer that gets in between a use case's load and its write.
        self.before_commit: list[Callable[[], None]] = []
        # Each call is atomic, as DynamoDB's are: use cases on several threads interleave between calls.
        self.lock = threading.RLock()
        self.die_before_inbox = False  # the next wide change dies between its commit and its inbox entries

    # --- test helpers ----------------------------------------------------------------------

    def item(self, pk: str, sk: str) -> Item | None:
        """A copy of one item, as stored."""
        found = self.items.get((pk, sk))
        return copy.deepcopy(found) if found is not None else None

    def items_of(self, tenant: str, approval_id: str) -> list[Item]:
        """Copies of every item under the approval's key (pointer and inbox entries included), by sk."""
        return self._partition(approval_pk(tenant, approval_id))

    def run_ttl(self, at: datetime) -> int:
        """DynamoDB's TTL, at once: delete every item whose `expires_at` (epoch seconds) is not after `at`."""
        due = [key for key, item in self.items.items()
               if "expires_at" in item and int(item["expires_at"]) <= at.timestamp()]
        for key in due:
            del self.items[key]
        return len(due)

    # --- directory -------------------------------------------------------------------------

    def put_directory(self, tenant: str, doc: Mapping[str, Any]) -> None:
        Directory.checked(doc)
        if doc.get("tenant") != tenant:
            raise InvalidInput(f"the directory is for tenant {doc.get('tenant')!r}, not {tenant!r}",
                               [{"field": "tenant", "problem": f"must be {tenant!r}"}])
        item = {"pk": directory_pk(tenant), "sk": "DIR", "kind": "directory", "doc": json.dumps(doc, default=str)}
        self.items[(item["pk"], item["sk"])] = _plain(item)

    def get_directory(self, tenant: str) -> Directory:
        found = self.items.get((directory_pk(tenant), "DIR"))
        if not found:
            raise NotFound(f"no directory for tenant {tenant!r}")
        return Directory.from_dict(json.loads(found["doc"]))

    # --- approvals -------------------------------------------------------------------------

    def create(self, approval: Approval, events: Sequence[NewEvent] = (), outbox: Sequence[Publication] = ()) -> None:
        approval.revision = 1
        event_ops, head = self._event_ops(approval, events, approval.created_at)
        approval.event_seq, approval.last_hash = head  # the approval item carries the chain head
        item = _plain(approval_item(approval))
        put = _Op((item["pk"], item["sk"]), _put(item), condition=_absent)
        outbox_ops = [self._outbox_op(p, approval.created_at) for p in outbox]
        self._transact([put, *event_ops, *outbox_ops], on_first=ApprovalExists(f"approval {approval.id} exists"))

    def load(self, tenant: str, approval_id: str) -> Approval:
        pk = approval_pk(tenant, approval_id)
        found = self.items.get((pk, "A"))
        if not found:
            raise NotFound(f"approval {approval_id} not found")
        approval = approval_from(copy.deepcopy(found))
        approval.steps = [step_from(item) for item in stages_from(self._partition(pk, "S#"))]
        return approval

    def history(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        pk = approval_pk(tenant, approval_id)
        events = [{k: e.get(k) for k in ("seq", "type", "actor", "acting_for", "at", "data", "hash", "prev_hash")}
                  for e in self._partition(pk, "E#")]
        return timeline(events, stages_from(self._partition(pk, "S#")))

    def commit(
        self,
        approval: Approval,
        at: str,
        *,
        steps: Iterable[StepWrite] = (),
        events: Sequence[NewEvent] = (),
        status: ApprovalStatus | None = None,
        input: Mapping[str, Any] | None = None,
        completed: bool = False,
        outbox: Sequence[Publication] = (),
    ) -> None:
        while self.before_commit:
            self.before_commit.pop(0)()
        steps = list(steps)
        expected = approval.revision
        ops: list[_Op] = []
        inbox: list[_Op] = []
        for write in steps:
            ops.append(self._step_op(approval, write))
            ops += self._decision_ops(approval, write.step)
            inbox += self._inbox_ops(approval, write.step)
        event_ops, head = self._event_ops(approval, events, at)
        changes: Item = {"updated_at": at}
        if status is not None:
            changes["status"] = status.value
        if input is not None:
            changes["input"] = dict(input)
        if completed:
            changes["completed_at"] = at
        if events:
            changes["event_seq"], changes["last_hash"] = head
        changes = _plain(changes)

        def update(current: Item | None) -> Item:
            assert current is not None
            return {**current, **changes, "revision": int(current["revision"]) + 1}

        def same_revision(current: Item | None) -> bool:
            return current is not None and current.get("revision") == expected

        head_op = _Op((approval_pk(approval.tenant, approval.id), "A"), update, condition=same_revision)
        outbox_ops = [self._outbox_op(p, at) for p in outbox]
        every = [head_op, *ops, *event_ops, *outbox_ops]
        inbox_later = len(every) + len(inbox) > MAX_TRANSACTION_ITEMS  # store.py: a wide stage's entries follow
        stale = StaleRevision(f"approval {approval.id} changed since revision {approval.revision}")
        self._transact(every if inbox_later else [*every, *inbox], on_first=stale, on_other=stale)
        if inbox_later and self.die_before_inbox:
            self.die_before_inbox = False
            raise RuntimeError("the process died after the commit, before the inbox entries")
        for op in inbox if inbox_later else []:
            self._apply(op)
        approval.revision += 1
        approval.updated_at = at
        if status is not None:
            approval.status = status
        if input is not None:
            approval.input = dict(input)
        if completed:
            approval.completed_at = at
        for write in steps:
            approval.steps = [s for s in approval.steps if (s.step, s.stage) != (write.step.step, write.step.stage)]
            approval.steps.append(replace(write.step, ver=write.step.ver + 1))
        approval.event_seq, approval.last_hash = head

    def vote(self, approval: Approval, vote: Vote, outbox: Sequence[Publication] = ()) -> None:
        while self.before_commit:
            self.before_commit.pop(0)()
        stage, record, tally = vote.stage, vote.record, vote.tally
        pk = approval_pk(approval.tenant, approval.id)
        alim, rlim = tally.vote_limits(record.decision)
        counted = "n_approve" if record.decision is Decision.APPROVE else "n_reject"

        def countable(current: Item | None) -> bool:  # store.py's vote condition
            return (current is not None and current.get("status") == StepStatus.OPEN.value
                    and record.user in (current.get("assignees") or []) and not current.get("signers")
                    and "n_approve" in current and "n_reject" in current
                    and int(current["n_approve"]) < alim and int(current["n_reject"]) < rlim)

        def count(current: Item | None) -> Item:
            assert current is not None
            return {**current, "ver": int(current.get("ver", 0)) + 1, counted: int(current.get(counted, 0)) + 1}

        item = _plain(decision_item(approval, stage, record))
        self._transact([_Op((pk, step_sk(stage.step, stage.stage)), count, condition=countable),
                        _Op((pk, item["sk"]), _put(item), condition=_absent),
                        _Op((pk, inbox_sk(stage, record.user)), _delete),
                        *(self._outbox_op(p, record.at) for p in outbox)],
                       on_first=StaleRevision(f"stage {stage.step}/{stage.stage} moved on"),
                       on_other=AlreadyDecided(f"{record.user} already decided on {stage.step}"))

    def restore_inbox(self, approval: Approval, stage: Step) -> None:
        for user in waiting_for(stage):
            item = _plain(inbox_item(approval, stage, user))
            self._apply(_Op((item["pk"], item["sk"]), _put(item)))

    def mark_callback(self, tenant: str, approval_id: str, step: str, stage: int, value: str) -> None:
        # An UpdateItem: it creates the item if there is none, as DynamoDB does.
        key = (approval_pk(tenant, approval_id), step_sk(step, stage))
        item = self.items.get(key) or {"pk": key[0], "sk": key[1]}
        item = {k: v for k, v in item.items() if k not in ("gsi1pk", "gsi1sk")}
        item["callback"] = value
        item["ver"] = int(item.get("ver", 0)) + 1
        self.items[key] = _plain(item)

    # --- index -----------------------------------------------------------------------------

    def inbox(self, tenant: str, user: str) -> list[dict[str, Any]]:
        def stage_open(entry: Item) -> bool:  # store.py skips entries of stages no longer open
            found = self.items.get((str(entry["pk"]), step_sk(str(entry["step"]), int(entry["stage"]))))
            return found is not None and found.get("status") == StepStatus.OPEN.value
        return [e for e in self._query_index(inbox_pk(tenant, user)) if stage_open(e)]

    def due_stages(self, until: str) -> list[dict[str, Any]]:
        return self._query_shards("REMIND", until)

    def pending_starts(self, until: str) -> list[dict[str, Any]]:
        return self._query_shards("START", until)

    def mark_started(self, tenant: str, approval_id: str) -> None:
        key = (approval_pk(tenant, approval_id), "A")
        found = self.items.get(key)
        if found is None:
            return  # the adapter's condition (attribute_exists) failed: nothing to drop
        self.items[key] = {k: v for k, v in found.items() if k not in ("gsi1pk", "gsi1sk", "start_pending")}

    # --- outbox ----------------------------------------------------------------------------

    def _outbox_op(self, publication: Publication, at: str) -> _Op:
        """The adapter's outbox item of a business event, written with its change."""
        event_id = publication.event_id
        item = _plain({"pk": f"T#{publication.tenant}#OUTBOX", "sk": event_id, "kind": "outbox",
                       "detail_type": publication.detail_type, "detail": json.dumps(publication.detail, default=str),
                       "gsi1pk": sharded("OUTBOX", event_id), "gsi1sk": f"{at}#{event_id}"})
        return _Op((item["pk"], item["sk"]), _put(item))

    def delete_published(self, publication: Publication) -> None:
        self.items.pop((f"T#{publication.tenant}#OUTBOX", publication.event_id), None)

    def pending_outbox(self, until: str) -> list[dict[str, Any]]:
        return self._query_shards("OUTBOX", until)

    def delete_outbox(self, item: Mapping[str, Any]) -> None:
        self.items.pop((str(item["pk"]), str(item["sk"])), None)

    def pending_callbacks(self, until: str) -> list[dict[str, Any]]:
        return self._query_shards("CALLBACK", until)

    # --- archive ---------------------------------------------------------------------------

    def approval_items(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        items = self._partition(approval_pk(tenant, approval_id))
        stages = {(s["pk"], s["sk"]): s for s in stages_from(items)}
        return [stages.get((i["pk"], i["sk"]), i) for i in items if i.get("kind") in ("approval", "step", "event")]

    def expire(self, tenant: str, approval_id: str, revision: int, key: str, expires_at: int) -> None:
        pk = approval_pk(tenant, approval_id)
        head = self.items.get((pk, "A"))
        if head is None or head.get("revision") != revision or head.get("archive_key") not in (None, key):
            raise Conflict(f"approval {approval_id} changed after it was archived")
        expires_at = int(head.get("expires_at", expires_at))  # called again: the first TTL stays
        self.items[(pk, "A")] = {**head, "expires_at": expires_at, "archive_key": key}
        self.items[(pk, ARCHIVE_POINTER_SK)] = {"pk": pk, "sk": ARCHIVE_POINTER_SK, "kind": "archive",
                                                "archive_key": key}
        for item in self._partition(pk):
            if item["sk"] not in ("A", ARCHIVE_POINTER_SK):
                self.items[(pk, item["sk"])]["expires_at"] = expires_at

    def archive_pointer(self, tenant: str, approval_id: str) -> str | None:
        found = self.items.get((approval_pk(tenant, approval_id), ARCHIVE_POINTER_SK))
        return str(found["archive_key"]) if found else None

    # --- internals -------------------------------------------------------------------------

    def _partition(self, pk: str, prefix: str = "") -> list[Item]:
        with self.lock:
            return self._partition_unlocked(pk, prefix)

    def _partition_unlocked(self, pk: str, prefix: str) -> list[Item]:
        found = [item for (p, sk), item in self.items.items() if p == pk and sk.startswith(prefix)]
        return [copy.deepcopy(i) for i in sorted(found, key=lambda i: str(i["sk"]))]

    def _query_index(self, pk: str, upto: str | None = None) -> list[Item]:
        with self.lock:
            return self._query_index_unlocked(pk, upto)

    def _query_index_unlocked(self, pk: str, upto: str | None) -> list[Item]:
        found = [item for item in self.items.values()
                 if item.get("gsi1pk") == pk and (upto is None or str(item["gsi1sk"]) <= upto)]
        # Sorted by the index's sort key; ties (undefined order in DynamoDB) by the table key.
        found.sort(key=lambda i: (str(i["gsi1sk"]), str(i["pk"]), str(i["sk"])))
        return [copy.deepcopy(i) for i in found]

    def _query_shards(self, kind: str, until: str) -> list[Item]:
        found: list[Item] = []
        for shard in range(REMIND_SHARDS):
            found += self._query_index(f"{kind}#{shard}", until + "~")
        return found

    def _apply(self, op: _Op) -> None:
        with self.lock:
            self._apply_unlocked(op)

    def _apply_unlocked(self, op: _Op) -> None:
        new = op.write(copy.deepcopy(self.items.get(op.key)))
        if new is None:
            self.items.pop(op.key, None)
        else:
            self.items[op.key] = new

    def _transact(self, ops: list[_Op], on_first: Exception, on_other: Exception | None = None) -> None:
        with self.lock:
            self._transact_unlocked(ops, on_first, on_other)

    def _transact_unlocked(self, ops: list[_Op], on_first: Exception, on_other: Exception | None) -> None:
        keys = [op.key for op in ops]
        if len(set(keys)) != len(keys):
            raise InvalidTransaction(f"Transaction request cannot include multiple operations on one item: {keys}")
        if len(ops) > MAX_TRANSACTION_ITEMS:
            raise InvalidTransaction(f"{len(ops)} items in one transaction (at most {MAX_TRANSACTION_ITEMS})")
        codes = ["None" if op.condition is None or op.condition(self.items.get(op.key)) else "ConditionalCheckFailed"
                 for op in ops]
        if "ConditionalCheckFailed" in codes:
            if codes[0] == "ConditionalCheckFailed":
                raise on_first
            raise on_other or Conflict(f"a stage changed meanwhile ({codes})")
        for op in ops:
            self._apply(op)

    def _event_ops(self, approval: Approval, events: Sequence[NewEvent], at: str) -> tuple[list[_Op], tuple[int, str]]:
        seq, head = approval.event_seq, approval.last_hash
        ops: list[_Op] = []
        for event in events:
            seq += 1
            body = {"seq": seq, "type": event.type, "actor": event.actor, "acting_for": event.acting_for,
                    "at": at, "data": dict(event.data)}
            digest = event_hash(head, body)
            item = _plain({"pk": approval_pk(approval.tenant, approval.id), "sk": f"E#{seq:08d}", "kind": "event",
                           **body, "hash": digest, "prev_hash": head})
            head = digest
            ops.append(_Op((item["pk"], item["sk"]), _put(item), condition=_absent))
        return ops, (seq, head)

    def _step_op(self, approval: Approval, write: StepWrite) -> _Op:
        item = _plain(step_item(approval, replace(write.step, ver=write.step.ver + 1)))
        allowed = {status.value for status in write.expect}

        def may_put(current: Item | None) -> bool:
            # store.py: `attribute_not_exists(pk)` (may_create) OR (`ver` as read AND `#st IN (expect...)`)
            if current is None:
                return write.may_create
            same = int(current.get("ver", 0)) == write.step.ver
            return same and (not allowed or current.get("status") in allowed)

        return _Op((item["pk"], item["sk"]), _put(item), condition=may_put)

    def _decision_ops(self, approval: Approval, new: Step) -> list[_Op]:
        """Like store.py's _decision_puts: the decisions the stage as read had not, each if absent."""
        old = next((s for s in approval.steps if (s.step, s.stage) == (new.step, new.stage)), None)
        known = {d.user for d in old.decisions} if old is not None else set()
        items = [_plain(decision_item(approval, new, d)) for d in new.decisions if d.user not in known]
        return [_Op((i["pk"], i["sk"]), _put(i), condition=_absent) for i in items]

    def _inbox_ops(self, approval: Approval, new: Step) -> list[_Op]:
        """Like store.py's _inbox_writes: from the stage as `approval` holds it to `new`."""
        old = next((s for s in approval.steps if (s.step, s.stage) == (new.step, new.stage)), None)
        before, after = waiting_for(old), waiting_for(new)
        pk = approval_pk(approval.tenant, approval.id)
        ops = [_Op((pk, inbox_sk(new, user)), _delete) for user in before if user not in after]
        for user in after:
            if user not in before:
                item = _plain(inbox_item(approval, new, user))
                ops.append(_Op((pk, item["sk"]), _put(item)))
        return ops


# --- Step Functions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    state_machine: str
    name: str
    arn: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """A task token completed: SendTaskSuccess (`output`) or SendTaskFailure (`error`, `cause`)."""

    token: str
    succeeded: bool
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


class MemoryWorkflows:
    """Executions by (state machine, name) and the task tokens Tasks wait on. A test hands out a
    token (`wait_on`) when it plays the Task that opens a stage; completing a token no Task waits
    on (unknown, completed already, or `time_out`) raises TokenGone, as the adapter does."""

    EXECUTION_ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:"

    def __init__(self) -> None:
        self.executions: dict[tuple[str, str], Execution] = {}
        self.start_calls: list[tuple[str, str]] = []  # every start asked for, repeats included
        self.completions: list[Completion] = []
        self.waiting: set[str] = set()
        self.refuse_starts = False  # StartExecution fails (throttled, an outage)
        self.unavailable = False  # SendTaskSuccess/Failure fail (throttled, an outage): not TokenGone
        self.failing: dict[str, Exception] = {}  # completing this token raises that (e.g. InvalidOutput)

    def start(self, state_machine: str, name: str, payload: Mapping[str, Any]) -> str:
        self.start_calls.append((state_machine, name))
        if self.refuse_starts:
            raise RuntimeError(f"StartExecution of {state_machine}/{name} refused")
        if not 1 <= len(name) <= 80:
            raise ValueError(f"invalid execution name {name!r}")
        arn = f"{self.EXECUTION_ARN_PREFIX}{state_machine}:{name}"
        if (state_machine, name) not in self.executions:  # names are unique: a repeat starts nothing
            sent = json.loads(json.dumps(payload))  # the adapter sends json.dumps(payload)
            self.executions[(state_machine, name)] = Execution(state_machine, name, arn, sent)
        return arn

    def execution(self, name: str) -> Execution:
        """The one execution named `name` (of any state machine)."""
        (found,) = [e for e in self.executions.values() if e.name == name]
        return found

    def wait_on(self, token: str) -> str:
        """A Task now waits on `token` (waitForTaskToken)."""
        self.waiting.add(token)
        return token

    def time_out(self, token: str) -> None:
        """The Task's timeout passed: its token can no longer be completed."""
        self.waiting.discard(token)

    def completions_of(self, token: str) -> list[Completion]:
        return [c for c in self.completions if c.token == token]

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        self._complete(Completion(token, True, output=json.loads(json.dumps(output))))

    def fail(self, token: str, error: str, cause: str = "") -> None:
        self._complete(Completion(token, False, error=error, cause=cause))

    def _complete(self, completion: Completion) -> None:
        if self.unavailable:
            raise RuntimeError("Step Functions is unavailable (ThrottlingException)")
        if completion.token in self.failing:
            raise self.failing[completion.token]
        if completion.token not in self.waiting:
            raise TokenGone(f"TaskDoesNotExist: no task waits on {completion.token!r}")
        self.waiting.discard(completion.token)
        self.completions.append(completion)


# --- EventBridge, S3 -----------------------------------------------------------------------------


class MemoryBus:
    """The events put, as subscribers get them (`detail` through JSON); `refusing` makes put fail."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.refusing = False

    def put(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        if self.refusing:
            raise RuntimeError(f"EventBridge refused {detail_type}")
        self.events.append((detail_type, json.loads(json.dumps(detail, default=str))))

    def of(self, detail_type: str) -> list[dict[str, Any]]:
        """What the events of one type said, less their `event_id` (a fresh id each)."""
        return [{k: v for k, v in d.items() if k != "event_id"} for t, d in self.events if t == detail_type]

    @property
    def ids(self) -> list[str]:
        return [str(d["event_id"]) for _, d in self.events]

    @property
    def types(self) -> list[str]:
        return [t for t, _ in self.events]


class MemoryQueue:
    """An SQS queue as the sweep sees it: a message received and not deleted is received again."""

    def __init__(self) -> None:
        self.messages: dict[str, str] = {}  # receipt -> body, in the order sent

    def send(self, body: str) -> None:
        self.messages[f"r-{len(self.messages)}-{uuid.uuid4().hex[:6]}"] = body

    def receive(self, limit: int) -> list[Message]:
        return [Message(body=b, receipt=r) for r, b in list(self.messages.items())[:limit]]

    def delete(self, message: Message) -> None:
        self.messages.pop(message.receipt, None)


class MemoryArchive:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, blob: bytes) -> None:
        self.blobs[key] = bytes(blob)

    def get(self, key: str) -> bytes:
        try:
            return self.blobs[key]
        except KeyError:
            raise KeyError(f"NoSuchKey: {key}") from None


# --- the runtime -------------------------------------------------------------------------------


class Clock:
    """`rt.now`: a time that moves only when told."""

    def __init__(self, at: datetime) -> None:
        self.at = self._aware(at)

    @staticmethod
    def _aware(at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("the clock keeps aware times")
        return at.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        self.at += (delta or timedelta()) + timedelta(**parts)
        return self.at

    def set(self, at: datetime) -> datetime:
        self.at = self._aware(at)
        return self.at


DEFAULT_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class MemoryRuntime(Runtime):
    """A Runtime whose ports are the fakes above (typed as such, for tests) and whose clock is `clock`."""

    store: MemoryStore = field(default_factory=MemoryStore)
    sfn: MemoryWorkflows = field(default_factory=MemoryWorkflows)
    events: MemoryBus = field(default_factory=MemoryBus)
    archive: MemoryArchive = field(default_factory=MemoryArchive)
    signer: LocalSigner = field(default_factory=LocalSigner)
    clock: Clock = field(default_factory=lambda: Clock(DEFAULT_NOW))

    def __post_init__(self) -> None:
        self.now = self.clock
        self.slept: list[float] = []
        self.sleep = self.slept.append  # the waits between contended attempts, not waited


def memory_runtime(now: datetime | str = DEFAULT_NOW) -> MemoryRuntime:
    """A Runtime on fresh fakes; `rt.clock` is its `now` (`rt.clock.advance(seconds=11)`)."""
    return MemoryRuntime(clock=Clock(parse_time(now)))


if TYPE_CHECKING:  # the fakes are structural implementations of the ports (mypy checks these)
    from approvals.unit_of_work.ports import ApprovalStore, Archive, EventBus, RetryQueue, Workflows

    _store: ApprovalStore = MemoryStore()
    _workflows: Workflows = MemoryWorkflows()
    _bus: EventBus = MemoryBus()
    _archive: Archive = MemoryArchive()
    _queue: RetryQueue = MemoryQueue()
    _runtime: Runtime = memory_runtime()
