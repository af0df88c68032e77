"""NotifyFunction: a notify step; tells people, waits for nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import notify


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = notify.notify(event)
    count("NotificationSent", event, step=str(event.get("step")))
    logger.info("notify done", extra={"result": result})
    return result
