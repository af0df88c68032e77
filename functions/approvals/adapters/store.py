"""The approvals table: one DynamoDB table, every key starting with the tenant.

Items (pk, sk):
- `T#<tenant>#A#<id>`, `A`            the approval (status, input, revision, audit chain head)
- `T#<tenant>#A#<id>`, `S#<step>#<n>` a stage of a human step
- `T#<tenant>#A#<id>`, `E#<seq:08d>`  an audit event (append-only, hash-chained)
- `T#<tenant>#DIR`,    `DIR`          the tenant's directory

Every change to an approval is one `TransactWriteItems`: the approval item, conditional on the
revision the change was computed from and bumped by one, with the step and event items it
changes. So two writers never both win on the same revision, and an audit event exists exactly
when its change does.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..domain import (
    Approval,
    ApprovalStatus,
    Conflict,
    DecisionRecord,
    Directory,
    NotFound,
    StaleRevision,
    Step,
    StepStatus,
)
from . import aws

_ser = TypeSerializer()
_de = TypeDeserializer()


def approval_pk(tenant: str, approval_id: str) -> str:
    return f"T#{tenant}#A#{approval_id}"


def directory_pk(tenant: str) -> str:
    return f"T#{tenant}#DIR"


def step_sk(step: str, stage: int) -> str:
    return f"S#{step}#{stage}"


def _to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    # DynamoDB numbers must be Decimal; a JSON round trip also turns tuples into lists.
    plain = json.loads(json.dumps({k: v for k, v in item.items() if v is not None}), parse_float=Decimal)
    return {k: _ser.serialize(v) for k, v in plain.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


@dataclass(frozen=True)
class NewEvent:
    """An audit event to append; seq and hashes are filled in by the store."""

    type: str
    actor: str
    data: Mapping[str, Any]
    acting_for: str | None = None


@dataclass(frozen=True)
class StepWrite:
    """A stage item to put, and what it must look like before (the write fails otherwise)."""

    step: Step
    expect: frozenset[StepStatus] = frozenset()  # allowed current statuses; empty: no check
    may_create: bool = False  # the item may also not exist yet


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    body = {k: event.get(k) for k in ("seq", "type", "actor", "acting_for", "at", "data")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class Store:
    def __init__(self, table_name: str | None = None, client: Any = None) -> None:
        self._table_name = table_name
        self._client = client

    @property
    def table_name(self) -> str:
        return self._table_name or os.environ["TABLE_NAME"]

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    # --- directory -----------------------------------------------------------------

    def put_directory(self, tenant: str, doc: Mapping[str, Any]) -> None:
        item = {"pk": directory_pk(tenant), "sk": "DIR", "kind": "directory", "doc": json.dumps(doc, default=str)}
        self.client.put_item(TableName=self.table_name, Item=_to_ddb(item))

    def get_directory(self, tenant: str) -> Directory:
        found = self.client.get_item(
            TableName=self.table_name, Key=_to_ddb({"pk": directory_pk(tenant), "sk": "DIR"}), ConsistentRead=True
        ).get("Item")
        if not found:
            raise NotFound(f"no directory for tenant {tenant!r}")
        return Directory.from_dict(json.loads(_from_ddb(found)["doc"]))

    # --- approvals -----------------------------------------------------------------

    def create(self, approval: Approval, events: Sequence[NewEvent] = ()) -> None:
        """Write a new approval (revision 1) with its first events; fails if the id exists."""
        approval.revision = 1
        event_items = self._event_puts(approval, events, approval.created_at)
        self._save_head(approval, event_items)  # the approval item carries the chain head
        put = {
            "Put": {
                "TableName": self.table_name,
                "Item": _to_ddb(self._approval_item(approval)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        self._transact([put, *event_items], on_first=Conflict(f"approval {approval.id} exists"))

    def load(self, tenant: str, approval_id: str) -> Approval:
        """The approval with all its stages. The approval item is read first: a stage changed after
        that read makes the next revision-conditional write fail instead of going unnoticed."""
        pk = approval_pk(tenant, approval_id)
        found = self.client.get_item(
            TableName=self.table_name, Key=_to_ddb({"pk": pk, "sk": "A"}), ConsistentRead=True
        ).get("Item")
        if not found:
            raise NotFound(f"approval {approval_id} not found")
        approval = self._approval_from(_from_ddb(found))
        approval.steps = [self._step_from(item) for item in self._query(pk, "S#")]
        return approval

    def history(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        events = self._query(approval_pk(tenant, approval_id), "E#")
        return [{k: e.get(k) for k in ("seq", "type", "actor", "acting_for", "at", "data", "hash", "prev_hash")}
                for e in events]

    def commit(
        self,
        approval: Approval,
        at: str,
        *,
        steps: Iterable[StepWrite] = (),
        events: Sequence[NewEvent] = (),
        status: ApprovalStatus | None = None,
    ) -> None:
        """Apply one change: approval revision +1 (conditional on `approval.revision`), stages, events.
        On success `approval` reflects the new revision, status, stages and chain head."""
        values: dict[str, Any] = {":rev": approval.revision, ":one": 1, ":now": at}
        sets = ["revision = revision + :one", "updated_at = :now"]
        if status is not None:
            sets.append("#st = :status")
            values[":status"] = status.value
        items: list[dict[str, Any]] = []
        for write in steps:
            items.append(self._step_put(approval, write))
        event_items = self._event_puts(approval, events, at)
        if events:
            seq, head = event_items[-1]["_head"]
            sets += ["event_seq = :seq", "last_hash = :hash"]
            values.update({":seq": seq, ":hash": head})
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": _to_ddb({"pk": approval_pk(approval.tenant, approval.id), "sk": "A"}),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "revision = :rev",
            "ExpressionAttributeValues": _to_ddb(values),
        }
        if status is not None:
            update["ExpressionAttributeNames"] = {"#st": "status"}
        all_items = [{"Update": update}, *items, *event_items]
        self._transact(all_items, on_first=StaleRevision(f"approval {approval.id} changed since revision "
                                                         f"{approval.revision}"))
        approval.revision += 1
        approval.updated_at = at
        if status is not None:
            approval.status = status
        for write in steps:
            approval.steps = [s for s in approval.steps if (s.step, s.stage) != (write.step.step, write.step.stage)]
            approval.steps.append(write.step)
        self._save_head(approval, event_items)

    def mark_callback(self, tenant: str, approval_id: str, step: str, stage: int, value: str) -> None:
        """Bookkeeping on the stage only (not a change of the approval): its token was completed."""
        self.client.update_item(
            TableName=self.table_name,
            Key=_to_ddb({"pk": approval_pk(tenant, approval_id), "sk": step_sk(step, stage)}),
            UpdateExpression="SET callback = :v",
            ExpressionAttributeValues=_to_ddb({":v": value}),
        )

    # --- items ---------------------------------------------------------------------

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": _to_ddb({":pk": pk, ":p": prefix}),
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            items += [_from_ddb(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _transact(self, items: list[dict[str, Any]], on_first: Exception) -> None:
        clean = [{op: body for op, body in item.items() if op != "_head"} for item in items]
        try:
            self.client.transact_write_items(TransactItems=clean)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if not codes or codes[0] == "ConditionalCheckFailed":
                raise on_first from error
            raise Conflict(f"a stage changed meanwhile ({codes})") from error

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
                "Put": {"TableName": self.table_name, "Item": _to_ddb(item),
                        "ConditionExpression": "attribute_not_exists(pk)"},
                "_head": (seq, head),
            })
        return items

    @staticmethod
    def _save_head(approval: Approval, event_items: list[dict[str, Any]]) -> None:
        if event_items:
            approval.event_seq, approval.last_hash = event_items[-1]["_head"]

    def _step_put(self, approval: Approval, write: StepWrite) -> dict[str, Any]:
        s = write.step
        item = {
            "pk": approval_pk(approval.tenant, approval.id), "sk": step_sk(s.step, s.stage), "kind": "step",
            "step": s.step, "stage": s.stage, "status": s.status.value, "mode": s.mode,
            "assignees": list(s.assignees), "decisions": [d.to_dict() for d in s.decisions],
            "task_token": s.task_token, "opened_at": s.opened_at, "deadline": s.deadline, "title": s.title,
            "settled_at": s.settled_at, "callback": s.callback,
        }
        put: dict[str, Any] = {"TableName": self.table_name, "Item": _to_ddb(item)}
        conditions = ["attribute_not_exists(pk)"] if write.may_create else []
        if write.expect:
            allowed = sorted(st.value for st in write.expect)
            conditions.append("#st IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")")
            put["ExpressionAttributeNames"] = {"#st": "status"}
            put["ExpressionAttributeValues"] = _to_ddb({f":s{i}": v for i, v in enumerate(allowed)})
        if conditions:
            put["ConditionExpression"] = " OR ".join(conditions)
        return {"Put": put}

    @staticmethod
    def _approval_item(a: Approval) -> dict[str, Any]:
        return {
            "pk": approval_pk(a.tenant, a.id), "sk": "A", "kind": "approval", "id": a.id, "tenant": a.tenant,
            "flow": a.flow, "flow_version": a.flow_version, "requester": a.requester, "input": a.input,
            "status": a.status.value, "revision": a.revision, "created_at": a.created_at,
            "updated_at": a.updated_at, "event_seq": a.event_seq, "last_hash": a.last_hash,
        }

    @staticmethod
    def _approval_from(d: Mapping[str, Any]) -> Approval:
        return Approval(
            id=d["id"], tenant=d["tenant"], flow=d["flow"], flow_version=int(d["flow_version"]),
            requester=d["requester"], input=d.get("input") or {}, status=ApprovalStatus(d["status"]),
            revision=int(d["revision"]), created_at=d.get("created_at", ""), updated_at=d.get("updated_at", ""),
            event_seq=int(d.get("event_seq", 0)), last_hash=d.get("last_hash", ""),
        )

    @staticmethod
    def _step_from(d: Mapping[str, Any]) -> Step:
        return Step(
            step=d["step"], stage=int(d["stage"]), status=StepStatus(d["status"]), mode=d.get("mode", "any"),
            assignees=list(d.get("assignees") or []),
            decisions=[DecisionRecord.from_dict(x) for x in d.get("decisions") or []],
            task_token=d.get("task_token"), opened_at=d.get("opened_at"), deadline=d.get("deadline"),
            title=d.get("title"), settled_at=d.get("settled_at"), callback=d.get("callback"),
        )
