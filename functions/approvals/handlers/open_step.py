"""OpenStepFunction: open a human step (waitForTaskToken); returns at once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.contract.tasks import OpenStepInput
from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import open_step


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=OpenStepInput)
def handler(event: OpenStepInput, context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = open_step.open_step(event)
    count("StepEscalated" if event.stage > 0 else "StepOpened", event, step=event.step)
    logger.info("open_step done", extra={"result": result})
    return result
