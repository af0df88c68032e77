"""What the commands share: the directory, the open stage, who acts for whom, the input check, settling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..catalog import FlowEntry
from ..contract.manifest import CARRIED_INPUT_MAX_BYTES, compact_size
from ..contract.names import ApprovalError
from ..domain import (
    Approval,
    ApprovalStatus,
    Directory,
    InvalidInput,
    NotFound,
    Outcome,
    Step,
    StepNotOpen,
    StepStatus,
    UnknownUser,
    validate_input,
)
from ..domain.policy import check_visible, counts_for
from ..wiring import Runtime

OPEN_ONLY = frozenset({StepStatus.OPEN})


def directory_of(rt: Runtime, tenant: str) -> Directory | None:
    """The tenant's directory, or None if the tenant has none (then nobody is an admin)."""
    try:
        return rt.store.get_directory(tenant)
    except NotFound:
        return None


def open_stage(approval: Approval, step: str, kind: str = "approval") -> Step:
    """The open stage of `step`; StepNotOpen if the approval is not running or the step not open."""
    stage = approval.current(step)
    if approval.status is not ApprovalStatus.RUNNING or stage is None or stage.status is not StepStatus.OPEN:
        raise StepNotOpen(f"step {step} of approval {approval.id} is not open")
    if stage.kind != kind:
        raise StepNotOpen(f"step {step} of approval {approval.id} is not open for this ({stage.kind})")
    return stage


def acting_on(approval: Approval, step: str, user: str, directory: Directory | None, at: datetime) -> tuple[Step, str]:
    """The open stage of `step` and the participant `user` acts as on it (themself, or the one they
    stand in for), after checking that `user` may see the approval at all."""
    check_visible(approval, user, directory, at)
    stage = open_stage(approval, step)
    return stage, counts_for(stage, user, directory, at)


def check_users(directory: Directory | None, users: Sequence[str], field: str) -> None:
    """Every one of `users` must be in the tenant's directory; all unknown ones are reported."""
    unknown = [u for u in users if directory is None or not directory.exists(u)]
    if unknown:
        error = UnknownUser(unknown[0], field=field)
        error.details = [{"field": field, "problem": f"user {u!r} is not in the directory"} for u in unknown]
        raise error


def check_input(entry: FlowEntry, data: Any, requester: str, directory: Directory | None) -> dict[str, Any]:
    """The request's input validated against the flow (defaults filled in); every approver the
    requester picked (`from_input`) must exist in the directory, and so must the requester."""
    clean = validate_input(entry.input_schema, data)
    if directory is None or not directory.exists(requester):
        raise UnknownUser(requester, field="requester")
    problems: list[dict[str, str]] = []
    first: str | None = None
    for name in entry.from_input_fields:
        value = clean.get(name)
        picked = [value] if isinstance(value, str) else list(value or []) if isinstance(value, list) else []
        for uid in picked:
            if not isinstance(uid, str) or not directory.exists(uid):
                first = first or str(uid)
                problems.append({"field": name, "problem": f"user {uid!r} is not in the directory"})
    if problems:
        error = UnknownUser(first or "", field=problems[0]["field"])
        error.details = problems
        raise error
    check_carried(entry, clean)
    return clean


def check_carried(entry: FlowEntry, clean: Mapping[str, Any]) -> None:
    """The fields the flow's machine carries (its conditions and actions read them) must fit in
    its state: InvalidInput naming the largest otherwise, before anything is written."""
    carried = entry.spec.carried_input(clean)
    size = compact_size(carried)
    if size <= CARRIED_INPUT_MAX_BYTES:
        return
    sizes = {name: compact_size(value) for name, value in carried.items()}
    largest = sorted(sizes, key=lambda name: -sizes[name])[:3]
    problem = (f"the fields this flow's steps read take {size:,} bytes together, over {CARRIED_INPUT_MAX_BYTES:,}"
               " (other fields may be larger)")
    raise InvalidInput(f"input too large for flow {entry.flow}: {problem}",
                       [{"field": name, "problem": f"{sizes[name]:,} bytes"} for name in largest])


def settled(stage: Step, outcome: Outcome, at: str) -> Step:
    """`stage` settled with `outcome` by a decision: its token is still to be completed."""
    if outcome is Outcome.OPEN:
        return stage
    return replace(stage, status=StepStatus(outcome.value), settled_at=at, callback="pending", outcome=outcome.value,
                   signal=None if outcome is Outcome.APPROVED else ApprovalError.REJECTED.value)


def user_list(users: Any, field: str = "users") -> list[str]:
    if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
        raise InvalidInput(f"{field} must be a non-empty list of user ids",
                           [{"field": field, "problem": "a non-empty list of user ids is required"}])
    return list(users)


def event_view(approval: Approval, prev_hash: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The audit event just written by a one-event change, as history shows it."""
    return {"seq": approval.event_seq, "type": body["type"], "actor": body["actor"],
            "acting_for": body.get("acting_for"), "at": approval.updated_at, "data": dict(body["data"]),
            "hash": approval.last_hash, "prev_hash": prev_hash}


def standing_in_for(user: str, counted: str) -> str | None:
    return counted if counted != user else None
