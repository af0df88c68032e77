"""NotifyFunction: a notify step; tells people, waits for nothing."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals import lifecycle

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(approval_id=event.get("approval_id"), tenant=event.get("tenant"), step=event.get("step"))
    result = lifecycle.notify(event)
    logger.info("notify done", extra={"result": result})
    return result
