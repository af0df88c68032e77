"""FinishFunction: called once at the end of every run with its outcome."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.contract.tasks import FinishInput
from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import finish


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=FinishInput)
def handler(event: FinishInput, context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = finish.finish(event)
    count("ApprovalCompleted", event, outcome=event.outcome)
    logger.info("finish done", extra={"result": result})
    return result
