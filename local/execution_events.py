"""Step Functions' execution status change events, which moto does not send.

On AWS, an execution that ends puts `Step Functions Execution Status Change` (source `aws.states`)
on the account's default bus; ExecutionEndedFunction's rule takes those of the product's machines
that did not succeed. moto's interpreter ends an execution in `terminated()` of its worker
communication object: after moto's own bookkeeping the event is built as AWS shapes it and handed
to the rules of the default bus (local/eventbridge.py), so the function runs as it would deployed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from approvals.contract.execution_status import DETAIL_TYPE

from . import eventbridge

log = logging.getLogger(__name__)
_original: Any = None
_original_stop: Any = None
_client: list[Callable[[str], Any]] = []
_announced: set[str] = set()  # one event per execution that ends, as AWS sends
_lock = threading.Lock()


def _millis(at: Any) -> int | None:
    return int(at.timestamp() * 1000) if isinstance(at, datetime) else None


def status_change(execution: Any) -> dict[str, Any]:
    """The event's detail, in the shape AWS sends (the fields ExecutionEndedFunction reads, and more)."""
    return {
        "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
        "name": execution.name, "status": execution.exec_status.value,
        "startDate": _millis(execution.start_date), "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data), "output": json.dumps(execution.output)
        if execution.output is not None else None,
        "error": execution.error, "cause": execution.cause,
    }


def _announce(execution: Any) -> None:
    with _lock:
        if not _client or execution.exec_arn in _announced:
            return
        _announced.add(execution.exec_arn)
        client = _client[0]
    try:
        eventbridge.publish(client, "default", DETAIL_TYPE, status_change(execution), source="aws.states")
    except Exception:  # a stack being torn down: the event has nowhere to go
        log.exception("status change of %s not delivered", execution.exec_arn)


def install(client: Callable[[str], Any]) -> None:
    """Announce every execution that ends through `client` (the stack's boto3 client factory)."""
    global _original, _original_stop
    with _lock:
        _client[:] = [client]
        if _original is not None:
            return
        _original, _original_stop = BaseExecutionWorkerCommunication.terminated, Execution.stop

        def terminated(self: BaseExecutionWorkerCommunication) -> None:
            _original(self)
            _announce(self.execution)

        def stop(self: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
            # AWS ends a stopped execution ABORTED at once; moto's worker may stay blocked on a
            # waiting Task's token (or end it FAILED later): the execution is ABORTED now, as on AWS.
            _original_stop(self, stop_date=stop_date, error=error, cause=cause)
            if self.exec_status == ExecutionStatus.RUNNING:
                self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date
                self.error, self.cause = error, cause
            _announce(self)

        BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]
        Execution.stop = stop  # type: ignore[method-assign]


def uninstall(client: Callable[[str], Any]) -> None:
    """Stop announcing through `client` (its stack is gone); another stack's client stays."""
    with _lock:
        if _client and _client[0] == client:
            _client.clear()
