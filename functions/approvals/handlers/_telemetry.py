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

from approvals.settings import settings

logger = Logger(service=settings().service_name)


def tag(event: Mapping[str, Any]) -> None:
    logger.append_keys(approval_id=event.get("approval_id"), tenant=event.get("tenant"), flow=event.get("flow"),
                       step=event.get("step"))


def count(name: str, event: Mapping[str, Any], **dimensions: str) -> None:
    """One EMF document per count, with its own dimensions: nothing is shared between invocations
    (the local stack runs many handlers in one process at once)."""
    if is_metrics_disabled():  # single_metric itself does not look at POWERTOOLS_METRICS_DISABLED
        return
    namespace = settings().metrics_namespace
    dims = {"flow": str(event.get("flow") or "unknown"), **dimensions}
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=namespace,
                       default_dimensions=dims):
        pass
