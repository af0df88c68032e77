"""SweepFunction, on a schedule: send the reminders that are due, complete the tokens of
stages that were settled but never told to their Task (a function died in between), and start
the executions of approvals written but never started, publish the events EventBridge
refused, and settle the approvals of ended executions whose event could not be acted on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.handlers._telemetry import logger
from approvals.settings import settings
from approvals.sweeps.callbacks import sweep_callbacks
from approvals.sweeps.ended_runs import sweep_ended_runs
from approvals.sweeps.outbox import sweep_outbox
from approvals.sweeps.reminders import due_reminders
from approvals.sweeps.starts import sweep_starts

# The template sets the namespace; the default keeps a flush outside Lambda (tests) from failing.
metrics = Metrics(namespace=settings().metrics_namespace)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reminders = due_reminders()
    finished = sweep_callbacks()
    starts = sweep_starts()
    published = sweep_outbox()
    ended = _ended_runs()
    metrics.add_metric(name="RemindersSent", unit=MetricUnit.Count, value=len(reminders))
    metrics.add_metric(name="CallbacksRecovered", unit=MetricUnit.Count, value=len(finished))
    metrics.add_metric(name="StartsRecovered", unit=MetricUnit.Count, value=sum(s["started"] for s in starts))
    metrics.add_metric(name="EventsRepublished", unit=MetricUnit.Count, value=published)
    metrics.add_metric(name="EndedRunsSettled", unit=MetricUnit.Count, value=sum(r["settled"] for r in ended))
    if finished:
        logger.warning("completed tokens left behind", extra={"approvals": finished})
    if starts:
        logger.warning("approvals whose execution had not started", extra={"approvals": starts})
    if ended:
        logger.warning("ended executions settled from the retry queue", extra={"runs": ended})
    return {"reminders": len(reminders), "recovered": finished, "starts": starts, "republished": published,
            "ended": ended}


def _ended_runs() -> list[dict[str, Any]]:
    url = settings().execution_ended_queue_url
    if not url:
        return []
    from approvals.adapters.queue import SqsRetryQueue

    return sweep_ended_runs(SqsRetryQueue(url))
