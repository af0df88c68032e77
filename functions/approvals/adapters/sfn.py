"""Step Functions: start an approval's execution, complete a human step's task token."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ..settings import settings
from ..unit_of_work.ports import TokenGone
from . import aws

# Errors that mean the token can no longer be completed (the Task timed out, the execution ended).
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctions:
    def __init__(self, client: Any = None, arn_prefix: str | None = None) -> None:
        self._client = client
        self._arn_prefix = arn_prefix

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("stepfunctions")
        return self._client

    def state_machine_arn(self, name: str) -> str:
        # The template passes the prefix so no lookup is needed; elsewhere ask STS once for the account.
        prefix = self._arn_prefix or settings().state_machine_arn_prefix
        if not prefix:
            account = aws.client("sts").get_caller_identity()["Account"]
            region = self.client.meta.region_name
            prefix = f"arn:aws:states:{region}:{account}:stateMachine:"
            self._arn_prefix = prefix
        return prefix + name

    def start(self, state_machine: str, name: str, payload: Mapping[str, Any]) -> str:
        """Start `state_machine` with execution name `name`. Names are unique per machine, so a
        repeat starts nothing: an execution of that name (running or not) counts as started."""
        arn = self.state_machine_arn(state_machine)
        try:
            response = self.client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return arn.replace(":stateMachine:", ":execution:") + f":{name}"
        return str(response["executionArn"])

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        self._complete(self.client.send_task_success, taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str = "") -> None:
        # The Cause is not relied on (emulators drop it): the error name carries the meaning.
        self._complete(self.client.send_task_failure, taskToken=token, error=error, cause=cause)

    @staticmethod
    def _complete(call: Any, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in TOKEN_GONE:
                raise TokenGone(str(error)) from error
            raise
