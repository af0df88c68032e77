"""OpenStepFunction: open a human step (waitForTaskToken); returns at once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import open_step


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = open_step.open_step(event)
    escalated = int(event.get("stage") or 0) > 0
    count("StepEscalated" if escalated else "StepOpened", event, step=str(event.get("step")))
    logger.info("open_step done", extra={"result": result})
    return result
