"""ExecutionEndedFunction: the target of the rule on Step Functions' execution status changes of the
product's machines. An execution that ended other than through Finish settles its approval
(approvals.machine.execution_ended); EventBridge may deliver twice: nothing happens twice."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.contract.execution_status import ExecutionStatusChange
from approvals.handlers._telemetry import count, logger
from approvals.machine.execution_ended import settle_ended_run


class ExecutionStatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusChange


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=ExecutionStatusChangeEvent)
def handler(event: ExecutionStatusChangeEvent, context: LambdaContext) -> dict[str, Any]:
    result = settle_ended_run(event.detail)
    if result["approval_id"] is None:
        logger.info("execution without an approval's input", extra={"execution": event.detail.execution_arn})
    else:
        logger.append_keys(approval_id=result["approval_id"])
    if result["settled"]:
        change = event.detail
        flow = change.state_machine_arn.rsplit(":", 1)[-1].rsplit("-v", 1)[0]
        count("ApprovalEndedWithoutFinish", {"flow": flow}, status=change.status)
        logger.warning("approval settled failed: its execution ended %s", change.status)
    return result
