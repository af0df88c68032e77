"""Every change to an approval: load it, compute the change, write it conditional on the revision
read (one transaction: the approval, its stages, its audit events and its business events in the
outbox); on a lost race, read again. Once written, its business events are put on the bus."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import iso
from ..domain import Approval, ApprovalStatus, StaleRevision
from ..domain.audit import NewEvent
from ..unit_of_work.tokens import finish_leftovers
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime
from .ports import Publication, WriteContended
from .publish import publish

# Concurrent writers to one approval (approvers of one step deciding in the same second, Parallel
# branches) take turns: each lost race waits a random while, growing (full jitter), so that they do
# not collide again in step; after MAX_ATTEMPTS the caller gets a clear conflict (409).
MAX_ATTEMPTS = 16
BACKOFF_BASE = 0.01  # seconds
BACKOFF_CAP = 0.4


def backoff(attempt: int, draw: Callable[[float, float], float] = random.uniform) -> float:
    """How long to wait before attempt `attempt + 1` (full jitter, capped)."""
    return draw(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt))


@dataclass
class Change:
    """What one write does to an approval; `result` is handed back to the caller untouched."""

    steps: Sequence[StepWrite] = ()
    events: Sequence[NewEvent] = ()
    status: ApprovalStatus | None = None
    result: Any = None
    input: Mapping[str, Any] | None = None  # a new input (resubmission)
    completed: bool = False  # Finish: the run is over
    publish: Sequence[Publication] = ()  # business events (unit_of_work.publish.event)


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
                            input=planned.input, completed=planned.completed, outbox=planned.publish)
        except StaleRevision:
            if revision is not None:
                raise
            rt.sleep(backoff(attempt))
            continue
        except WriteContended:
            rt.sleep(backoff(attempt))  # nothing was written: the same change, read afresh, may pass
            continue
        publish(rt, planned.publish)
        return approval, planned
    raise StaleRevision(f"approval {approval_id} kept changing; try again")
