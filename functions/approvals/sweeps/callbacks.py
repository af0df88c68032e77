"""Tokens a function that died left uncompleted (SweepFunction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import iso
from ..domain import NotFound
from ..unit_of_work.logs import approval_keys, log
from ..unit_of_work.tokens import LEFTOVER_AFTER, finish_leftovers
from ..wiring import Runtime, default_runtime


def sweep_callbacks(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled half of exactly-once: every stage, of any tenant, settled more than a moment
    ago whose token was never completed gets it completed now. Returns what it finished."""
    rt = rt or default_runtime()
    cutoff = iso((now or rt.now()) - LEFTOVER_AFTER)
    finished: list[dict[str, Any]] = []
    for item in rt.store.pending_callbacks(cutoff):
        tenant, approval_id = str(item["tenant"]), str(item["approval_id"])
        try:
            approval = rt.store.load(tenant, approval_id)
            done = finish_leftovers(rt, approval)
        except NotFound:
            continue
        except Exception:
            # One token Step Functions keeps refusing must not stop the others (nor the sweeps after).
            log.exception("leftover token of %s not completed; the next sweep tries again", approval_id,
                          extra=approval_keys(tenant, approval_id))
            continue
        if done:
            finished.append({"tenant": tenant, "approval_id": approval_id})
    return finished
