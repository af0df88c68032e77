"""The approvals table: one DynamoDB table, every key starting with the tenant.

Items (pk, sk):
- `T#<tenant>#A#<id>`, `A`            the approval (status, input, revision, audit chain head)
- `T#<tenant>#A#<id>`, `S#<step>#<n>` a stage of a human step, with its version `ver` and the
                                      count of its approvals and rejections
- `T#<tenant>#A#<id>`, `S#<step>#<n>#D#<participant>` a decision on that stage (written if absent)
- `T#<tenant>#A#<id>`, `E#<seq:08d>`  an audit event (append-only, hash-chained)
- `T#<tenant>#A#<id>`, `I#<step>#<n>#<user>` an inbox entry: `user` may decide on that open stage now
- `T#<tenant>#DIR`,    `DIR`          the tenant's directory
- `T#<tenant>#OUTBOX`, `<event id>`   a business event of a change, written with it, until it is on the bus

One overloaded global secondary index, `gsi1` (gsi1pk, gsi1sk, all attributes projected):
- inbox entries: `T#<tenant>#U#<user>`, `<opened_at>#<approval id>#<step>` ("what waits for me")
- open stages with a scheduled reminder left: `REMIND#<shard>`, `<due at>#<tenant>#<id>#<step>#<n>`
  (the reminder sweep reads each shard up to now);
- settled stages whose token is not yet completed: `CALLBACK#<shard>`, `<settled at>#...`;
- approvals whose execution is not confirmed started: `START#<shard>`, `<created at>#<tenant>#<id>`;
- outbox items: `OUTBOX#<shard>`, `<at>#<event id>`.
The first three are written in the same transaction as the stage they belong to, so they never drift;
the sweep reads the shards of the last four (SweepFunction, every 5 minutes).

Every change to an approval is one `TransactWriteItems`: the approval item, conditional on the
revision the change was computed from and bumped by one, with the step and event items it
changes. So two writers never both win on the same revision, and an audit event exists exactly
when its change does. Every stage write is also conditional on the stage's `ver`.

Decisions do not all race on that one revision: on a stage settled by counting (all, any,
quorum, percent without added signers), a decision that does not settle it is a `vote` — its
decision item, the stage's count raised while short of both thresholds, the decider's inbox entry
dropped and its business event, one transaction on three items of its own, whatever the others do.
The decision that settles the stage is a change of the approval like any other. Decisions are not
in the approval's hash chain as they are made; `Step Settled` carries the stage's decisions into
it, and the archive seals them all. A stage with more inbox entries than a transaction holds gets
them in batches after its change; readers of the inbox skip entries of stages no longer open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from ..domain import (
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
from ..domain.audit import NewEvent, event_hash, timeline
from ..domain.records import approval_from, step_from
from ..domain.stage import waiting_for
from ..settings import settings
from ..unit_of_work.ports import Publication
from ..unit_of_work.writes import StepWrite, Vote
from . import aws
from .dynamo import query_all, statuses, transact, write_batched
from .store_items import (
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

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems

__all__ = ["INDEX", "Store"]

INDEX = "gsi1"


class Store:
    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self._table_name = table_name
        self._client = client

    @property
    def table_name(self) -> str:
        return self._table_name or settings().require("table_name")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    # --- directory -----------------------------------------------------------------

    def put_directory(self, tenant: str, doc: Mapping[str, Any]) -> None:
        """Store a tenant's directory; InvalidInput (nothing written) when it is not valid."""
        Directory.checked(doc)
        if doc.get("tenant") != tenant:
            raise InvalidInput(f"the directory is for tenant {doc.get('tenant')!r}, not {tenant!r}",
                               [{"field": "tenant", "problem": f"must be {tenant!r}"}])
        item = {"pk": directory_pk(tenant), "sk": "DIR", "kind": "directory", "doc": json.dumps(doc, default=str)}
        self.client.put_item(TableName=self.table_name, Item=to_ddb(item))

    def get_directory(self, tenant: str) -> Directory:
        found = self.client.get_item(
            TableName=self.table_name, Key=to_ddb({"pk": directory_pk(tenant), "sk": "DIR"}), ConsistentRead=True
        ).get("Item")
        if not found:
            raise NotFound(f"no directory for tenant {tenant!r}")
        return Directory.from_dict(json.loads(from_ddb(found)["doc"]))

    # --- approvals -----------------------------------------------------------------

    def create(self, approval: Approval, events: Sequence[NewEvent] = (),
               outbox: Sequence[Publication] = ()) -> None:
        """Write a new approval (revision 1) with its first events (and business events, in the
        outbox); fails if the id exists."""
        approval.revision = 1
        event_items = self._event_puts(approval, events, approval.created_at)
        self._save_head(approval, event_items)  # the approval item carries the chain head
        put = {
            "Put": {
                "TableName": self.table_name,
                "Item": to_ddb(approval_item(approval)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        outbox_items = [self._outbox_put(p, approval.created_at) for p in outbox]
        transact(self.client, [put, *event_items, *outbox_items],
                 on_first=ApprovalExists(f"approval {approval.id} exists"))

    def load(self, tenant: str, approval_id: str) -> Approval:
        """The approval with all its stages. The approval item is read first: a stage changed after
        that read makes the next revision-conditional write fail instead of going unnoticed."""
        pk = approval_pk(tenant, approval_id)
        found = self.client.get_item(
            TableName=self.table_name, Key=to_ddb({"pk": pk, "sk": "A"}), ConsistentRead=True
        ).get("Item")
        if not found:
            raise NotFound(f"approval {approval_id} not found")
        approval = approval_from(from_ddb(found))
        approval.steps = [step_from(item) for item in stages_from(self._query(pk, "S#"))]
        return approval

    def history(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        pk = approval_pk(tenant, approval_id)
        events = [{k: e.get(k) for k in ("seq", "type", "actor", "acting_for", "at", "data", "hash", "prev_hash")}
                  for e in self._query(pk, "E#")]
        return timeline(events, stages_from(self._query(pk, "S#")))

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
        """Apply one change: approval revision +1 (conditional on `approval.revision`), stages (with
        their inbox entries), events, and optionally a new status, a new input, the completion mark.
        On success `approval` reflects the new revision, status, stages and chain head."""
        steps = list(steps)
        values: dict[str, Any] = {":rev": approval.revision, ":one": 1, ":now": at}
        sets = ["revision = revision + :one", "updated_at = :now"]
        if status is not None:
            sets.append("#st = :status")
            values[":status"] = status.value
        if input is not None:
            sets.append("#in = :input")
            values[":input"] = dict(input)
        if completed:
            sets.append("completed_at = :now")
        items: list[dict[str, Any]] = []
        inbox: list[dict[str, Any]] = []
        for write in steps:
            items.append(self._step_put(approval, write))
            items += self._decision_puts(approval, write.step)
            inbox += self._inbox_writes(approval, write.step)
        event_items = self._event_puts(approval, events, at)
        if events:
            seq, head = event_items[-1]["_head"]
            sets += ["event_seq = :seq", "last_hash = :hash"]
            values.update({":seq": seq, ":hash": head})
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_ddb({"pk": approval_pk(approval.tenant, approval.id), "sk": "A"}),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "revision = :rev",
            "ExpressionAttributeValues": to_ddb(values),
        }
        names = {"#st": "status"} if status is not None else {}
        if input is not None:
            names["#in"] = "input"
        if names:
            update["ExpressionAttributeNames"] = names
        all_items = [{"Update": update}, *items, *event_items, *(self._outbox_put(p, at) for p in outbox)]
        # A wide stage's inbox entries (a role held by hundreds) do not fit in the transaction: they
        # follow it (readers drop entries of stages no longer open; a re-opening writes them again).
        inbox_later = len(all_items) + len(inbox) > MAX_TRANSACTION_ITEMS
        stale = StaleRevision(f"approval {approval.id} changed since revision {approval.revision}")
        transact(self.client, all_items if inbox_later else [*all_items, *inbox], on_first=stale, on_other=stale)
        if inbox_later:
            write_batched(self.client, self.table_name, inbox)
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
        self._save_head(approval, event_items)

    def vote(self, approval: Approval, vote: Vote, outbox: Sequence[Publication] = ()) -> None:
        stage, record, tally = vote.stage, vote.record, vote.tally
        pk = approval_pk(approval.tenant, approval.id)
        # The count may go up by one only while it stays short of both thresholds (Tally): the decision
        # that would reach one settles the stage, and that goes through the approval's revision.
        alim, rlim = tally.vote_limits(record.decision)
        counted = "n_approve" if record.decision is Decision.APPROVE else "n_reject"
        update = {"Update": {
            "TableName": self.table_name, "Key": to_ddb({"pk": pk, "sk": step_sk(stage.step, stage.stage)}),
            "UpdateExpression": f"ADD ver :one, {counted} :one",
            "ConditionExpression": "#st = :open AND contains(assignees, :p) AND size(signers) = :zero"
                                   " AND n_approve < :alim AND n_reject < :rlim",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": to_ddb({":one": 1, ":zero": 0, ":open": StepStatus.OPEN.value,
                                                 ":p": record.user, ":alim": alim, ":rlim": rlim}),
        }}
        decision = {"Put": {"TableName": self.table_name, "Item": to_ddb(decision_item(approval, stage, record)),
                            "ConditionExpression": "attribute_not_exists(pk)"}}
        entry = {"Delete": {"TableName": self.table_name,
                            "Key": to_ddb({"pk": pk, "sk": inbox_sk(stage, record.user)})}}
        at = record.at
        transact(self.client, [update, decision, entry, *(self._outbox_put(p, at) for p in outbox)],
                 on_first=StaleRevision(f"stage {stage.step}/{stage.stage} moved on"),
                 on_other=AlreadyDecided(f"{record.user} already decided on {stage.step}"))

    def restore_inbox(self, approval: Approval, stage: Step) -> None:
        entries = [{"Put": {"TableName": self.table_name, "Item": to_ddb(inbox_item(approval, stage, user))}}
                   for user in waiting_for(stage)]
        write_batched(self.client, self.table_name, entries)

    def mark_callback(self, tenant: str, approval_id: str, step: str, stage: int, value: str) -> None:
        """Bookkeeping on the stage only (not a change of the approval): its token was completed."""
        self.client.update_item(
            TableName=self.table_name,
            Key=to_ddb({"pk": approval_pk(tenant, approval_id), "sk": step_sk(step, stage)}),
            # Leaves the sweep's index: nothing is left to send for this stage.
            UpdateExpression="SET callback = :v ADD ver :one REMOVE gsi1pk, gsi1sk",
            ExpressionAttributeValues=to_ddb({":v": value, ":one": 1}),
        )

    # --- index ---------------------------------------------------------------------

    def inbox(self, tenant: str, user: str) -> list[dict[str, Any]]:
        """The inbox entries of `user` (open stages they may decide on now), oldest first. Entries of
        a stage no longer open are left out: a wide stage's entries are removed after it settles."""
        entries = [(e, (str(e["pk"]), step_sk(str(e["step"]), int(e["stage"]))))
                   for e in self._query_index(inbox_pk(tenant, user))]
        found = statuses(self.client, self.table_name, {key for _, key in entries})
        return [e for e, key in entries if found.get(key) == StepStatus.OPEN.value]

    def due_stages(self, until: str) -> list[dict[str, Any]]:
        """Open stage items whose next scheduled reminder is due at or before `until`, every tenant."""
        return self._query_shards("REMIND", until)

    def pending_starts(self, until: str) -> list[dict[str, Any]]:
        """Approvals written at or before `until` whose execution was not confirmed started."""
        return self._query_shards("START", until)

    def mark_started(self, tenant: str, approval_id: str) -> None:
        """The execution runs: drop the approval from the sweep's starts. Not a change anyone sees
        (no revision): a writer that still holds the pending flag may put it back, and the sweep
        then finds the execution running and drops it again."""
        try:
            self.client.update_item(
                TableName=self.table_name, Key=to_ddb({"pk": approval_pk(tenant, approval_id), "sk": "A"}),
                UpdateExpression="REMOVE gsi1pk, gsi1sk, start_pending", ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # --- outbox: the business events of a change, until they are on the bus (the sweep puts leftovers) ---

    def _outbox_put(self, publication: Publication, at: str) -> dict[str, Any]:
        """The outbox item of a business event, written in its change's transaction."""
        item = {"pk": f"T#{publication.tenant}#OUTBOX", "sk": publication.event_id, "kind": "outbox",
                "detail_type": publication.detail_type, "detail": json.dumps(publication.detail, default=str),
                "gsi1pk": sharded("OUTBOX", publication.event_id), "gsi1sk": f"{at}#{publication.event_id}"}
        return {"Put": {"TableName": self.table_name, "Item": to_ddb(item)}}

    def delete_published(self, publication: Publication) -> None:
        self.client.delete_item(TableName=self.table_name,
                                Key=to_ddb({"pk": f"T#{publication.tenant}#OUTBOX", "sk": publication.event_id}))

    def pending_outbox(self, until: str) -> list[dict[str, Any]]:
        """Events waiting to be published again, oldest first within each shard (every tenant)."""
        return self._query_shards("OUTBOX", until)

    def delete_outbox(self, item: Mapping[str, Any]) -> None:
        self.client.delete_item(TableName=self.table_name, Key=to_ddb({"pk": item["pk"], "sk": item["sk"]}))

    def pending_callbacks(self, until: str) -> list[dict[str, Any]]:
        """Stages settled at or before `until` whose token was never completed (every tenant)."""
        return self._query_shards("CALLBACK", until)

    # --- the archive's side: every item of a finished approval, then their TTL and a pointer ----

    def approval_items(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        """The approval item, its stages (decisions joined in) and its events (plain values), in key order."""
        items = self._partition_items(approval_pk(tenant, approval_id))
        stages = {(s["pk"], s["sk"]): s for s in stages_from(items)}
        return [stages.get((i["pk"], i["sk"]), i) for i in items if i.get("kind") in ("approval", "step", "event")]

    def _partition_items(self, pk: str) -> list[dict[str, Any]]:
        return query_all(self.client, self.table_name, {
            "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": to_ddb({":pk": pk}),
            "ConsistentRead": True})

    def expire(self, tenant: str, approval_id: str, revision: int, key: str, expires_at: int) -> None:
        """TTL on every item of a finished approval. The approval item goes first, conditional on the
        revision that was archived: a change after the archive was written keeps the items hot. Called
        again (an archiver died half way) it finishes the pointer and the TTLs, with the first TTL."""
        pk = approval_pk(tenant, approval_id)
        try:
            found = self.client.update_item(
                TableName=self.table_name,
                Key=to_ddb({"pk": pk, "sk": "A"}),
                UpdateExpression="SET expires_at = if_not_exists(expires_at, :t), archive_key = :k",
                ConditionExpression="revision = :rev AND (attribute_not_exists(archive_key) OR archive_key = :k)",
                ExpressionAttributeValues=to_ddb({":t": expires_at, ":k": key, ":rev": revision}),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise Conflict(f"approval {approval_id} changed after it was archived") from error
        expires_at = int(from_ddb(found["Attributes"])["expires_at"])
        # The pointer has no TTL: reads of an expired approval find their way to the archive.
        self.client.put_item(
            TableName=self.table_name,
            Item=to_ddb({"pk": pk, "sk": ARCHIVE_POINTER_SK, "kind": "archive", "archive_key": key}),
        )
        for item in self._partition_items(pk):
            if item["sk"] in ("A", ARCHIVE_POINTER_SK) or item.get("expires_at") == expires_at:
                continue
            self.client.update_item(
                TableName=self.table_name,
                Key=to_ddb({"pk": pk, "sk": item["sk"]}),
                UpdateExpression="SET expires_at = :t",
                ExpressionAttributeValues=to_ddb({":t": expires_at}),
            )


    def archive_pointer(self, tenant: str, approval_id: str) -> str | None:
        found = self.client.get_item(
            TableName=self.table_name,
            Key=to_ddb({"pk": approval_pk(tenant, approval_id), "sk": ARCHIVE_POINTER_SK}),
            ConsistentRead=True,
        ).get("Item")
        if not found:
            return None
        return str(found["archive_key"]["S"])

    def _query_shards(self, kind: str, until: str) -> list[dict[str, Any]]:
        """A sweep's items of every shard of `kind` (store_items.sharded) keyed at or before `until`."""
        found: list[dict[str, Any]] = []
        for shard in range(REMIND_SHARDS):
            found += self._query_index(f"{kind}#{shard}", until + "~")
        return found

    def _query_index(self, pk: str, upto: str | None = None) -> list[dict[str, Any]]:
        condition = "gsi1pk = :pk" + (" AND gsi1sk <= :upto" if upto is not None else "")
        values: dict[str, Any] = {":pk": pk}
        if upto is not None:
            values[":upto"] = upto
        return query_all(self.client, self.table_name, {
            "IndexName": INDEX, "KeyConditionExpression": condition, "ExpressionAttributeValues": to_ddb(values)})

    def _inbox_writes(self, approval: Approval, new: Step) -> list[dict[str, Any]]:
        """Puts and deletes that make the stage's inbox entries match who may decide on it now."""
        old = next((s for s in approval.steps if (s.step, s.stage) == (new.step, new.stage)), None)
        before, after = waiting_for(old), waiting_for(new)
        pk = approval_pk(approval.tenant, approval.id)
        writes: list[dict[str, Any]] = [
            {"Delete": {"TableName": self.table_name, "Key": to_ddb({"pk": pk, "sk": inbox_sk(new, user)})}}
            for user in before if user not in after
        ]
        writes += [{"Put": {"TableName": self.table_name, "Item": to_ddb(inbox_item(approval, new, user))}}
                   for user in after if user not in before]
        return writes

    # --- items ---------------------------------------------------------------------

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        return query_all(self.client, self.table_name, {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": to_ddb({":pk": pk, ":p": prefix}),
            "ConsistentRead": True,
        })

    def _event_puts(self, approval: Approval, events: Sequence[NewEvent], at: str) -> list[dict[str, Any]]:
        seq, head = approval.event_seq, approval.last_hash
        items: list[dict[str, Any]] = []
        for event in events:
            seq += 1
            body = {"seq": seq, "type": event.type, "actor": event.actor, "acting_for": event.acting_for,
                    "at": at, "data": dict(event.data)}
            digest = event_hash(head, body)
            item = {"pk": approval_pk(approval.tenant, approval.id), "sk": f"E#{seq:08d}", "kind": "event",
                    **body, "hash": digest, "prev_hash": head}
            head = digest
            items.append({
                "Put": {"TableName": self.table_name, "Item": to_ddb(item),
                        "ConditionExpression": "attribute_not_exists(pk)"},
                "_head": (seq, head),
            })
        return items

    @staticmethod
    def _save_head(approval: Approval, event_items: list[dict[str, Any]]) -> None:
        if event_items:
            approval.event_seq, approval.last_hash = event_items[-1]["_head"]

    def _step_put(self, approval: Approval, write: StepWrite) -> dict[str, Any]:
        """The stage item, one version on (`ver`) from the one the change read: a decision counted
        meanwhile (vote) makes the change fail and be recomputed."""
        new = replace(write.step, ver=write.step.ver + 1)
        put: dict[str, Any] = {"TableName": self.table_name, "Item": to_ddb(step_item(approval, new))}
        values: dict[str, Any] = {":ver": write.step.ver}
        existing = ["ver = :ver" if write.step.ver else "(attribute_not_exists(ver) OR ver = :ver)"]
        if write.expect:
            allowed = sorted(st.value for st in write.expect)
            existing.append("#st IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")")
            put["ExpressionAttributeNames"] = {"#st": "status"}
            values.update({f":s{i}": v for i, v in enumerate(allowed)})
        put["ExpressionAttributeValues"] = to_ddb(values)
        # DynamoDB refuses redundant parentheses: only a conjunction of several is wrapped.
        condition = existing[0].strip("()") if len(existing) == 1 and not write.may_create else " AND ".join(existing)
        if write.may_create:
            condition = f"attribute_not_exists(pk) OR {condition if len(existing) == 1 else f'({condition})'}"
        put["ConditionExpression"] = condition
        return {"Put": put}

    def _decision_puts(self, approval: Approval, new: Step) -> list[dict[str, Any]]:
        """The items of the decisions `new` has that the stage as read had not (each written if absent)."""
        old = next((s for s in approval.steps if (s.step, s.stage) == (new.step, new.stage)), None)
        known = {d.user for d in old.decisions} if old is not None else set()
        return [{"Put": {"TableName": self.table_name, "Item": to_ddb(decision_item(approval, new, d)),
                         "ConditionExpression": "attribute_not_exists(pk)"}}
                for d in new.decisions if d.user not in known]
