"""An approval and its stages as plain records: the shape the table keeps them in (the table's
adapter adds its keys) and the archive document carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import AddedSigner, Approval, ApprovalStatus, DecisionRecord, Step, StepStatus, Transfer


def approval_from(d: Mapping[str, Any]) -> Approval:
    return Approval(
        id=d["id"], tenant=d["tenant"], flow=d["flow"], flow_version=int(d["flow_version"]),
        requester=d["requester"], input=d.get("input") or {}, status=ApprovalStatus(d["status"]),
        revision=int(d["revision"]), created_at=d.get("created_at", ""), updated_at=d.get("updated_at", ""),
        event_seq=int(d.get("event_seq", 0)), last_hash=d.get("last_hash", ""),
        completed_at=d.get("completed_at") or "", start_pending=bool(d.get("start_pending")),
    )


def step_from(d: Mapping[str, Any]) -> Step:
    return Step(
        step=d["step"], stage=int(d["stage"]), status=StepStatus(d["status"]), mode=d.get("mode", "any"),
        assignees=list(d.get("assignees") or []),
        decisions=[DecisionRecord.from_dict(x) for x in d.get("decisions") or []],
        task_token=d.get("task_token"), opened_at=d.get("opened_at"), deadline=d.get("deadline"),
        title=d.get("title"), settled_at=d.get("settled_at"), callback=d.get("callback"),
        kind=d.get("kind_of_step") or "approval", machine_stage=int(d.get("machine_stage", d["stage"])),
        allow=list(d.get("allow") or []), return_to=list(d.get("return_to") or []),
        remind_seconds=[int(x) for x in d.get("remind_seconds") or []],
        reminders_sent=int(d.get("reminders_sent", 0)), last_reminded_at=d.get("last_reminded_at"),
        signal=d.get("signal"), outcome=d.get("outcome"),
        signers=[AddedSigner.from_dict(x) for x in d.get("signers") or []],
        transfers=[Transfer.from_dict(x) for x in d.get("transfers") or []],
        delegates={str(k): str(v) for k, v in (d.get("delegates") or {}).items()},
        entered_at=d.get("entered_at"), ver=int(d.get("ver", 0)),
    )
