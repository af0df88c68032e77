"""What Step Functions says when an execution's status changes: the detail of its EventBridge event
`Step Functions Execution Status Change` (the fields the product reads). ExecutionEndedFunction
parses it at its boundary; SweepFunction parses the same events from their retry queue."""

from __future__ import annotations

from pydantic import BaseModel, Field

DETAIL_TYPE = "Step Functions Execution Status Change"


class ExecutionStatusChange(BaseModel):
    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None
