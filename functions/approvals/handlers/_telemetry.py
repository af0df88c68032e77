"""What every step handler logs and counts: the approval's keys on every log line, and the EMF
metrics by flow (and step or outcome). Tracer is not imported: cold starts stay short."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# The template sets the namespace; the default keeps a flush outside Lambda (tests) from failing.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Approvals"))


def tag(event: Mapping[str, Any]) -> None:
    logger.append_keys(approval_id=event.get("approval_id"), tenant=event.get("tenant"), flow=event.get("flow"),
                       step=event.get("step"))


def count(name: str, event: Mapping[str, Any], **dimensions: str) -> None:
    metrics.add_dimension(name="flow", value=str(event.get("flow") or "unknown"))
    for key, value in dimensions.items():
        metrics.add_dimension(name=key, value=value)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
