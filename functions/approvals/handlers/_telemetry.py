"""What every handler logs and counts: the approval's keys on every log line, and EMF metrics
by flow (and step or outcome). Tracer is not imported: cold starts stay short.

`logger` is the service's Logger (settings: POWERTOOLS_SERVICE_NAME, `approvals`); the unit of
work (approvals.unit_of_work) logs through a child of it, so its warnings carry the keys a handler appended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from approvals.contract.tasks import TaskContext
from approvals.settings import settings

logger = Logger(service=settings().service_name)


def tag(task: TaskContext) -> None:
    """The run's keys on every log line of this invocation (and the step's, for a step's Task)."""
    logger.append_keys(approval_id=task.approval_id, tenant=task.tenant, flow=task.flow,
                       step=getattr(task, "step", None))


def count(name: str, event: Mapping[str, Any] | TaskContext, **dimensions: str) -> None:
    """One EMF document per count, with its own dimensions: nothing is shared between invocations
    (the local stack runs many handlers in one process at once)."""
    if is_metrics_disabled():  # single_metric itself does not look at POWERTOOLS_METRICS_DISABLED
        return
    namespace = settings().metrics_namespace
    flow = event.flow if isinstance(event, TaskContext) else event.get("flow")
    dims = {"flow": str(flow or "unknown"), **dimensions}
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=namespace,
                       default_dimensions=dims):
        pass
