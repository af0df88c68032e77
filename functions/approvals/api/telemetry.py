"""The API's Logger and Metrics (one of each per process, shared by the app and its routers).

The Logger is the service's (settings: POWERTOOLS_SERVICE_NAME, `approvals`): powertools hands
every Logger of one service the same handler and keys, so what the API appends to it is on the
lines the unit of work (approvals.unit_of_work) logs during the request too.
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from approvals.domain import Approval
from approvals.settings import settings

logger = Logger(service=settings().service_name)
# The template sets the namespace; the default keeps tests (no environment) from failing a flush.
metrics = Metrics(namespace=settings().metrics_namespace)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def decision_latency(approval: Approval, step: str) -> None:
    """Seconds from the stage opening to the decision just recorded, by flow and step."""
    stage = approval.current(step)
    if stage is None or not stage.decisions or not stage.opened_at:
        return
    opened = datetime.fromisoformat(stage.opened_at.replace("Z", "+00:00"))
    decided = datetime.fromisoformat(stage.decisions[-1].at.replace("Z", "+00:00"))
    metrics.add_dimension(name="flow", value=approval.flow)
    metrics.add_dimension(name="step", value=step)
    metrics.add_metric(name="DecisionLatency", unit=MetricUnit.Seconds, value=(decided - opened).total_seconds())
