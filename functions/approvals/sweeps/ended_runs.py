"""Executions that ended without their Finish, whose status change event ExecutionEndedFunction
could not act on (SweepFunction): the backstop of "every execution ends in a settled approval".

EventBridge retries the rule's delivery for a day, Lambda its asynchronous invocation twice; what
still failed lands in the rule's retry queue (template.yaml, ExecutionEndedRetryQueue) as the
event itself. Each sweep settles what it finds there and deletes the message; a message it cannot
act on now (the table throttled) stays for the next sweep, and the queue's age alarm says when
one waits too long. Settling twice does nothing twice (machine.execution_ended)."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from ..contract.execution_status import ExecutionStatusChange
from ..machine.execution_ended import settle_ended_run
from ..unit_of_work.ports import RetryQueue
from ..wiring import Runtime, default_runtime

log = logging.getLogger(__name__)
# Enough for one sweep (a minute of its time); more wait for the next.
PER_SWEEP = 50


def sweep_ended_runs(queue: RetryQueue, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """Settle the approvals of the ended executions waiting in `queue`. Returns what each message
    gave: `{"approval_id", "settled"}` (approval_id None for a message that is not an approval's)."""
    rt = rt or default_runtime()
    done: list[dict[str, Any]] = []
    for message in queue.receive(PER_SWEEP):
        change = _change_of(message.body)
        if change is None:
            log.warning("retry queue: not a status change event, dropped: %.200s", message.body)
            queue.delete(message)
            continue
        try:
            result = settle_ended_run(change, rt=rt)
        except Exception:  # left in the queue: the next sweep tries again
            log.exception("retry queue: %s not settled yet", change.execution_arn)
            continue
        queue.delete(message)
        done.append(result)
    return done


def _change_of(body: str) -> ExecutionStatusChange | None:
    """The detail of the event a message carries (EventBridge's and Lambda's dead letters are both
    the event itself)."""
    try:
        event = json.loads(body)
        return ExecutionStatusChange.model_validate(event["detail"]) if isinstance(event, dict) else None
    except (ValueError, KeyError, TypeError, ValidationError):
        return None
