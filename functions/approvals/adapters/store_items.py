"""Item shapes of the approvals table (see store.py): keys, (de)serialisation, audit event hashing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..domain import (
    Approval,
    DecisionRecord,
    Step,
)
from ..domain.policy import next_reminder
from ..domain.stage import counts

REMIND_SHARDS = 4
# The pointer to a finished approval's archive: it has no TTL, so reads of an expired approval find it.
ARCHIVE_POINTER_SK = "ARCHIVE"

_ser = TypeSerializer()
_de = TypeDeserializer()


def approval_pk(tenant: str, approval_id: str) -> str:
    return f"T#{tenant}#A#{approval_id}"


def directory_pk(tenant: str) -> str:
    return f"T#{tenant}#DIR"


def step_sk(step: str, stage: int) -> str:
    return f"S#{step}#{stage}"


def inbox_pk(tenant: str, user: str) -> str:
    return f"T#{tenant}#U#{user}"


def inbox_sk(stage: Step, user: str) -> str:
    return f"I#{stage.step}#{stage.stage}#{user}"


def sharded(kind: str, key: str) -> str:
    """`<kind>#<shard>`: a sweep's index partition, spread over REMIND_SHARDS by `key`'s hash."""
    return f"{kind}#{int(hashlib.sha256(key.encode()).hexdigest(), 16) % REMIND_SHARDS}"


def remind_pk(approval_id: str) -> str:
    return sharded("REMIND", approval_id)


def to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
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


def from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


def callback_pk(approval_id: str) -> str:
    return sharded("CALLBACK", approval_id)


def step_item(approval: Approval, s: Step) -> dict[str, Any]:
    """A stage item. An open stage with a scheduled reminder left carries its reminder index keys;
    a settled stage whose token is not completed yet carries the sweep's index keys instead."""
    approvals, rejections = counts(s)
    item = {
        "pk": approval_pk(approval.tenant, approval.id), "sk": step_sk(s.step, s.stage), "kind": "step",
        "step": s.step, "stage": s.stage, "status": s.status.value, "mode": s.mode,
        "assignees": list(s.assignees), "ver": s.ver, "n_approve": approvals, "n_reject": rejections,
        "task_token": s.task_token, "opened_at": s.opened_at, "deadline": s.deadline, "title": s.title,
        "settled_at": s.settled_at, "callback": s.callback, "tenant": approval.tenant, "approval_id": approval.id,
        "kind_of_step": s.kind, "machine_stage": s.machine_stage, "allow": s.allow, "return_to": s.return_to,
        "remind_seconds": s.remind_seconds, "reminders_sent": s.reminders_sent,
        "last_reminded_at": s.last_reminded_at, "signal": s.signal, "outcome": s.outcome,
        "signers": [x.to_dict() for x in s.signers], "transfers": [t.to_dict() for t in s.transfers],
        "delegates": s.delegates, "entered_at": s.entered_at,
    }
    due = next_reminder(s)
    if s.callback == "pending" and s.task_token:
        item["gsi1pk"] = callback_pk(approval.id)
        item["gsi1sk"] = f"{s.settled_at}#{approval.tenant}#{approval.id}#{s.step}#{s.stage}"
    elif due is not None:
        item["gsi1pk"] = remind_pk(approval.id)
        item["gsi1sk"] = f"{due}#{approval.tenant}#{approval.id}#{s.step}#{s.stage}"
    return item


def decision_sk(stage: Step, participant: str) -> str:
    """A decision's own item, beside its stage's (`S#<step>#<n>#D#<participant>`): written only if
    absent, so a participant decides once per stage."""
    return f"{step_sk(stage.step, stage.stage)}#D#{participant}"


def decision_item(approval: Approval, stage: Step, record: DecisionRecord) -> dict[str, Any]:
    return {"pk": approval_pk(approval.tenant, approval.id), "sk": decision_sk(stage, record.user), "kind": "decision",
            "step": stage.step, "stage": stage.stage, **record.to_dict()}


def stages_from(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stage items among `items` (one approval's, plain values), each with its decision items
    joined in as `decisions`, oldest first (the table keeps them apart, see store.py)."""
    stages: dict[tuple[str, int], dict[str, Any]] = {}
    decisions: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for item in items:
        if item.get("kind") == "step":
            stages[(str(item["step"]), int(item["stage"]))] = {**item, "decisions": list(item.get("decisions") or [])}
        elif item.get("kind") == "decision":
            decisions.setdefault((str(item["step"]), int(item["stage"])), []).append(item)
    for key, found in decisions.items():
        if key in stages:
            joined = stages[key]["decisions"] + [{k: d.get(k) for k in _DECISION_KEYS} for d in found]
            stages[key]["decisions"] = sorted(joined, key=lambda d: str(d["at"]))  # stable: same-time keeps key order
    return list(stages.values())


_DECISION_KEYS = ("user", "acting_for", "decision", "comment", "at")


def inbox_item(approval: Approval, stage: Step, user: str) -> dict[str, Any]:
    """`user` may decide on `stage` now: what their inbox shows."""
    return {
        "pk": approval_pk(approval.tenant, approval.id), "sk": inbox_sk(stage, user), "kind": "inbox",
        "gsi1pk": inbox_pk(approval.tenant, user), "gsi1sk": f"{stage.opened_at or ''}#{approval.id}#{stage.step}",
        "tenant": approval.tenant, "approval_id": approval.id, "flow": approval.flow,
        "flow_version": approval.flow_version, "requester": approval.requester, "user": user,
        "step": stage.step, "stage": stage.stage, "opened_at": stage.opened_at, "deadline": stage.deadline,
    }


def start_pk(approval_id: str) -> str:
    return sharded("START", approval_id)


def approval_item(a: Approval) -> dict[str, Any]:
    item = {
        "pk": approval_pk(a.tenant, a.id), "sk": "A", "kind": "approval", "id": a.id, "tenant": a.tenant,
        "flow": a.flow, "flow_version": a.flow_version, "requester": a.requester, "input": a.input,
        "status": a.status.value, "revision": a.revision, "created_at": a.created_at,
        "updated_at": a.updated_at, "event_seq": a.event_seq, "last_hash": a.last_hash,
        "completed_at": a.completed_at or None,
    }
    if a.start_pending:
        item.update(start_pending=True, gsi1pk=start_pk(a.id), gsi1sk=f"{a.created_at}#{a.tenant}#{a.id}")
    return item
