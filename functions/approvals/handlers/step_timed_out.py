"""StepTimedOutFunction: a human step timed out with on_timeout approve or reject."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.contract.tasks import StepTimedOutInput
from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import step_timed_out


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=StepTimedOutInput)
def handler(event: StepTimedOutInput, context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = step_timed_out.step_timed_out(event)
    count("StepTimedOut", event, step=event.step, outcome=event.outcome)
    logger.info("step_timed_out done", extra={"result": result})
    return result
