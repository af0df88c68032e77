"""What the fault modules (test_faults.py, test_slow_answers.py) read and check on the stack after a
fault: the business events published, the audit trail, the archive, one completion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.fault_runs import outbox_left
from local import faults
from local.stack import MotoStack

LEAVE = {"days": 1, "start_date": "2026-12-01"}


def published(stack: MotoStack, approval_id: str, detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == detail_type]


def archive_key(stack: MotoStack, approval_id: str) -> str | None:
    with faults.observing():
        return stack.store.archive_pointer("acme", approval_id)


def audit_types(stack: MotoStack, approval_id: str) -> list[str]:
    return [e["type"] for e in stack.audit(approval_id)]


def finish_run(stack: MotoStack, approval_id: str, plan: Mapping[str, str | Sequence[str]], outcome: str) -> None:
    status, output, _ = stack.drive(approval_id, plan)
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == outcome, (status, output)


def completed_once(stack: MotoStack, approval_id: str, outcome: str) -> None:
    """One completion, in the table, in the audit trail and on the bus (one event id)."""
    approval = stack.approval(approval_id)
    assert approval.status.value == outcome and approval.completed_at
    assert audit_types(stack, approval_id).count("Approval Completed") == 1
    told = published(stack, approval_id, "Approval Completed")
    assert told and {e["event_id"] for e in told} == {told[0]["event_id"]}, told
    assert outbox_left(stack, approval_id) == []
