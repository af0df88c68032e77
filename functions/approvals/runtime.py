"""Wiring shared by the service and the handlers: the adapters, the clock, and the
read-modify-write loop every change to an approval goes through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from .adapters.archive_store import ArchiveStore
from .adapters.events import Events
from .adapters.sfn import StepFunctions, TokenGone
from .adapters.store import NewEvent, StepWrite, Store
from .domain import Approval, ApprovalStatus, StaleRevision, Step, StepStatus
from .settings import settings

# A child of the service's Logger (the handlers' and the API's): its lines go through that Logger's
# handler, with the keys the handler appended (approval_id, tenant, ...) and the service's name.
log = Logger(service=settings().service_name, child=True)

# Concurrent writers to one approval (two approvers, two Parallel branches) are rare and brief;
# a handful of re-reads settles them, after which the caller gets a clear conflict.
MAX_ATTEMPTS = 8


def _keys(tenant: Any, approval_id: Any, **more: Any) -> dict[str, Any]:
    """What a log line of this module is about, for the lines logged outside a handler that tagged
    them (the sweep goes through many approvals); inside one they are the same values."""
    return {"tenant": tenant, "approval_id": approval_id, **more}


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Runtime:
    store: Store = field(default_factory=Store)
    sfn: StepFunctions = field(default_factory=StepFunctions)
    events: Events = field(default_factory=Events)
    archive: ArchiveStore = field(default_factory=ArchiveStore)
    now: Callable[[], datetime] = utcnow


_default: Runtime | None = None


def default_runtime() -> Runtime:
    """Adapters built on first use (nothing AWS happens at import: cold starts stay short)."""
    global _default
    if _default is None:
        _default = Runtime()
    return _default


@dataclass
class Change:
    """What one write does to an approval; `result` is handed back to the caller untouched."""

    steps: Sequence[StepWrite] = ()
    events: Sequence[NewEvent] = ()
    status: ApprovalStatus | None = None
    result: Any = None
    input: Mapping[str, Any] | None = None  # a new input (resubmission)
    completed: bool = False  # Finish: the run is over


def mutate(
    rt: Runtime,
    tenant: str,
    approval_id: str,
    change: Callable[[Approval, datetime], Change | None],
    revision: int | None = None,
) -> tuple[Approval, Change | None]:
    """Load, compute the change, write it conditional on the revision read; on a lost race read
    again and recompute (unless the caller pinned `revision`: then the conflict is theirs)."""
    for attempt in range(MAX_ATTEMPTS):
        approval = rt.store.load(tenant, approval_id)
        if attempt == 0:
            finish_leftovers(rt, approval)
        if revision is not None and approval.revision != revision:
            raise StaleRevision(f"approval {approval_id} is at revision {approval.revision}, not {revision}")
        at = rt.now()
        planned = change(approval, at)
        if planned is None:
            return approval, None
        try:
            rt.store.commit(approval, iso(at), steps=planned.steps, events=planned.events, status=planned.status,
                            input=planned.input, completed=planned.completed)
        except StaleRevision:
            if revision is not None:
                raise
            continue
        return approval, planned
    raise StaleRevision(f"approval {approval_id} kept changing; try again")


def detail(approval: Approval, step: str | None = None, **extra: Any) -> dict[str, Any]:
    """The fields every business event carries."""
    body: dict[str, Any] = {
        "tenant": approval.tenant,
        "approval_id": approval.id,
        "flow": approval.flow,
        "flow_version": approval.flow_version,
        "step": step,
    }
    body.update(extra)
    return body


def complete_token(rt: Runtime, approval: Approval, stage: Step) -> None:
    """Tell the waiting Task how its stage ended (from its settled status and `signal`), then note
    that it was told (a stage settled with `callback: pending` left over is one whose function died
    in between: calling this again for it is what finishes it). A resubmission hands back the new input."""
    if not stage.task_token:
        return
    try:
        if stage.status is StepStatus.APPROVED and not stage.signal:
            output = dict(approval.input) if stage.kind == "resubmit" else {"step": stage.step, "outcome": "approved"}
            rt.sfn.succeed(stage.task_token, output)
        else:
            error = stage.signal or ("Approval.Withdrawn" if stage.status is StepStatus.CANCELLED
                                     else "Approval.Rejected")
            rt.sfn.fail(stage.task_token, error, f"{stage.step} {stage.status.value}")
        mark = "sent"
    except TokenGone:
        # The Task already timed out or the run ended: the machine has moved on without us.
        log.warning("token of %s/%s stage %s is gone", approval.id, stage.step, stage.stage,
                    extra=_keys(approval.tenant, approval.id, step=stage.step, stage=stage.stage))
        mark = "gone"
    rt.store.mark_callback(approval.tenant, approval.id, stage.step, stage.stage, mark)


# A stage settled this recently may still be in the hands of the function that settled it.
LEFTOVER_AFTER = timedelta(seconds=10)


def finish_leftovers(rt: Runtime, approval: Approval) -> int:
    """Complete the tokens of stages that were settled but never told to their Task (the function
    died between the table write and the callback). Called by every request that touches the
    approval and by the scheduled sweep; returns how many it completed."""
    cutoff = iso(rt.now() - LEFTOVER_AFTER)
    done = 0
    for stage in approval.steps:
        if stage.callback == "pending" and stage.task_token and (stage.settled_at or "") <= cutoff:
            complete_token(rt, approval, stage)
            done += 1
    return done


def state_machine_name(flow: str, version: int) -> str:
    return f"{flow}-v{version}"


def start_execution(rt: Runtime, approval: Approval) -> bool:
    """Start the approval's execution, named with its id (so at most one ever runs), and drop its
    pending mark. False, the mark kept for the sweep, when Step Functions refused."""
    payload = {
        "approval_id": approval.id, "tenant": approval.tenant, "flow": approval.flow,
        "flow_version": approval.flow_version, "requester": approval.requester, "input": approval.input,
    }
    try:
        rt.sfn.start(state_machine_name(approval.flow, approval.flow_version), approval.id, payload)
    except Exception:
        log.exception("execution of %s not started; the sweep retries", approval.id,
                      extra=_keys(approval.tenant, approval.id))
        return False
    rt.store.mark_started(approval.tenant, approval.id)
    return True


def emit(rt: Runtime, detail_type: str, body: Mapping[str, Any]) -> None:
    """Publish a business event after the change it tells of was saved. A refusal does not undo
    or fail that change (a caller's retry would find it done, or start a second approval): the
    event waits in the table's outbox and the sweep publishes it (at least once)."""
    try:
        rt.events.put(detail_type, body)
    except Exception:
        keys = _keys(body.get("tenant"), body.get("approval_id"), detail_type=detail_type)
        log.exception("%s for %s not published; kept for the sweep", detail_type, body.get("approval_id"), extra=keys)
        try:
            rt.store.put_outbox(detail_type, body, iso(rt.now()))
        except Exception:
            log.exception("%s for %s is lost: the outbox write failed too", detail_type, body.get("approval_id"),
                          extra=keys)
