"""NotifyFunction: a notify step; tells people, waits for nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.contract.tasks import NotifyInput
from approvals.handlers._telemetry import count, logger, tag
from approvals.machine import notify


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=NotifyInput)
def handler(event: NotifyInput, context: LambdaContext) -> dict[str, Any]:
    tag(event)
    result = notify.notify(event)
    count("NotificationSent", event, step=event.step)
    logger.info("notify done", extra={"result": result})
    return result
