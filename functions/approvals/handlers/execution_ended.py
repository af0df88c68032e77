"""ExecutionEndedFunction: the target of the rule on Step Functions' execution status changes of the
product's machines. An execution that ended other than through Finish settles its approval
(approvals.machine.execution_ended); EventBridge may deliver twice: nothing happens twice."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.handlers._telemetry import count, logger
from approvals.machine.execution_ended import execution_ended, reason_of, run_of


class ExecutionStatusChange(BaseModel):
    """The detail of `Step Functions Execution Status Change` (the fields used here)."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChangeEvent(EventBridgeModel):
    detail: ExecutionStatusChange


@logger.inject_lambda_context(clear_state=True)
@event_parser(model=ExecutionStatusChangeEvent)
def handler(event: ExecutionStatusChangeEvent, context: LambdaContext) -> dict[str, Any]:
    change = event.detail
    run = run_of(change.input)
    if run is None:  # not one of ours (the rule's prefix takes in every machine of the account)
        logger.info("execution without an approval's input", extra={"execution": change.execution_arn})
        return {"settled": False}
    tenant, approval_id = run
    logger.append_keys(approval_id=approval_id, tenant=tenant)
    result = execution_ended(tenant, approval_id, change.status, reason_of(change.status, change.error, change.cause))
    if result["settled"]:
        flow = change.state_machine_arn.rsplit(":", 1)[-1].rsplit("-v", 1)[0]
        count("ApprovalEndedWithoutFinish", {"flow": flow}, status=change.status)
        logger.warning("approval settled failed: its execution ended %s", change.status)
    return result
