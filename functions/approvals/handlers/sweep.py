"""SweepFunction, on a schedule: send the reminders that are due, complete the tokens of
stages that were settled but never told to their Task (a function died in between), and start
the executions of approvals written but never started, and publish the events EventBridge
refused."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.handlers._telemetry import logger
from approvals.settings import settings
from approvals.sweeps.callbacks import sweep_callbacks
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
    metrics.add_metric(name="RemindersSent", unit=MetricUnit.Count, value=len(reminders))
    metrics.add_metric(name="CallbacksRecovered", unit=MetricUnit.Count, value=len(finished))
    metrics.add_metric(name="StartsRecovered", unit=MetricUnit.Count, value=sum(s["started"] for s in starts))
    metrics.add_metric(name="EventsRepublished", unit=MetricUnit.Count, value=published)
    if finished:
        logger.warning("completed tokens left behind", extra={"approvals": finished})
    if starts:
        logger.warning("approvals whose execution had not started", extra={"approvals": starts})
    return {"reminders": len(reminders), "recovered": finished, "starts": starts, "republished": published}
