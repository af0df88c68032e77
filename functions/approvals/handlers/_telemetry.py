"""What every step handler logs and counts: the approval's keys on every log line, and EMF metrics
by flow (and step or outcome). Tracer is not imported: cold starts stay short."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()


def tag(event: Mapping[str, Any]) -> None:
    logger.append_keys(approval_id=event.get("approval_id"), tenant=event.get("tenant"), flow=event.get("flow"),
                       step=event.get("step"))


def count(name: str, event: Mapping[str, Any], **dimensions: str) -> None:
    """One EMF document per count, with its own dimensions: nothing is shared between invocations
    (the local stack runs many handlers in one process at once)."""
    if is_metrics_disabled():  # single_metric itself does not look at POWERTOOLS_METRICS_DISABLED
        return
    # The template sets the namespace; the default keeps a flush outside Lambda (tests) from failing.
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Approvals")
    dims = {"flow": str(event.get("flow") or "unknown"), **dimensions}
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=namespace,
                       default_dimensions=dims):
        pass
