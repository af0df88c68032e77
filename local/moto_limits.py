"""Step Functions' 256 KiB limit on the data of a state, in moto as on AWS.

On AWS an execution fails with States.DataLimitExceeded when a state's output, a Task's result or a
state's input after Parameters is larger than 256 KiB of UTF-8 JSON, and that error is terminal:
States.ALL, in a Catch or in a Retry, does not match it (an ErrorEquals that names it still does).
The API refuses a StartExecution input or a SendTaskSuccess output over the same size (the length
constraint of both fields: ValidationException). A flow over it locally must fail here as it will there.

moto 5.2.5's interpreter (ported from LocalStack) checks state outputs and Task results
(`_verify_size_quota`, with LocalStack's error name and cause), but measures `json.dumps` with its
spaces and \\u escapes and refuses 262,144 bytes itself, so it fails states AWS runs; says neither
which state nor how large; lets States.ALL catch and retry the error; turns it into States.Runtime
when it ends a Parallel branch or a Map iteration (their pools refuse a "States." name as a custom
one) and into DynamoDB.AmazonDynamoDBException in a DynamoDB task; does not check the input after
Parameters; and starts executions and takes task outputs of any size. Here: its checks of states
and of service integrations (`arn:aws:states:::lambda:invoke`, what the compiler emits, and the
others) measure as AWS does against `MAX_PAYLOAD_BYTES`, and add the state and the size to the
cause; the input after Parameters or Arguments is checked (`Parargs`); States.ALL does not match
(`ErrorEqualsDecl`, which Catch and Retry share); the error keeps its name through branches,
iterations and DynamoDB tasks; and the two API calls refuse. Not here: a Task whose Resource is a
function's ARN (moto's `StateTaskLambda`, which the compiler does not emit) keeps moto's own check.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.common.parargs import Parargs
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (
    StateTaskServiceDynamoDB,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

MAX_PAYLOAD_BYTES = 256 * 1024  # 262,144: a state's data, an execution's input, a task's output (UTF-8 JSON)

_DATA_LIMIT = StatesErrorNameType.StatesStatesDataLimitExceeded
_patched: list[tuple[object, str, Any]] = []  # (owner, attribute, moto's own), in the order installed


def payload_bytes(value: Any) -> int:
    """The size AWS counts: the value as compact JSON, in UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return len(text.encode("utf-8", "surrogatepass"))


def _json_default(value: object) -> str:
    # What moto's own encoder does with what JSON has no type for.
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _how_large(state: str | None, size: int) -> str:
    return f"State '{state}' holds {size:,} bytes of UTF-8 JSON; the limit is {MAX_PAYLOAD_BYTES:,}."


def _is_data_limit(error_name: object) -> bool:
    return isinstance(error_name, StatesErrorName) and error_name.typ is _DATA_LIMIT


def _state_name(env: Environment) -> str | None:
    state = env.states.context_object.context_object_data.get("State")
    return state.get("Name") if state else env.next_state_name


def _data_limit_exceeded(env: Environment, cause: str) -> FailureEventException:
    details = TaskFailedEventDetails(error=_DATA_LIMIT.to_name(), cause=cause)
    # moto's EventDetails declares every kind of detail as required; an event has one, as in moto's own.
    event_details = EventDetails(taskFailedEventDetails=details)  # type: ignore[typeddict-item]
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=StatesErrorName(typ=_DATA_LIMIT), event_type=HistoryEventType.TaskFailed,
        event_details=event_details,
    ))


def _verify_size_quota(original: Callable[..., None]) -> Callable[..., None]:
    """moto's check of a state's output or a task's result (its error and event), measured as AWS does."""

    @functools.wraps(original)
    def verify(self: CommonStateField, env: Environment, value: Any) -> None:
        size = payload_bytes(value)
        if size <= MAX_PAYLOAD_BYTES:
            return
        try:
            original(self, env, value)  # moto's measure is never smaller than this one: it raises
        except FailureEventException as failure:
            for detail in (failure.failure_event.event_details or {}).values():
                if isinstance(detail, dict) and "cause" in detail:
                    detail["cause"] = f"{detail['cause']} {_how_large(self.name, size)}"
            raise
        raise _data_limit_exceeded(env, f"The state/task '{self.name}' returned a result with a size exceeding "
                                        f"the maximum number of bytes service limit. {_how_large(self.name, size)}")

    return verify


def _parargs_eval_body(original: Callable[..., None]) -> Callable[..., None]:
    """Parameters (or Arguments) evaluated: the state's input from here on, which AWS measures too."""

    @functools.wraps(original)
    def eval_body(self: Parargs, env: Environment) -> None:
        original(self, env)
        size = payload_bytes(env.stack[-1])
        if size > MAX_PAYLOAD_BYTES:
            state = _state_name(env)
            raise _data_limit_exceeded(env, f"The state/task '{state}' has an input, after Parameters, with a size "
                                            f"exceeding the maximum number of bytes service limit. "
                                            f"{_how_large(state, size)}")

    return eval_body


def _error_equals_eval_body(original: Callable[..., None]) -> Callable[..., None]:
    """States.ALL does not match States.DataLimitExceeded; an ErrorEquals naming it still does."""

    @functools.wraps(original)
    def eval_body(self: ErrorEqualsDecl, env: Environment) -> None:
        error_name = env.stack[-1]
        if _is_data_limit(error_name) and error_name not in self.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    return eval_body


def _from_error(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    """A DynamoDB task reports any exception but a ClientError as its own error (DynamoDB.AmazonDynamoDBException)."""

    @functools.wraps(original)
    def from_error(self: StateTaskService, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException) and _is_data_limit(ex.failure_event.error_name):
            return ex.failure_event
        return original(self, env, ex)

    return from_error


def _branch_error_name(error_name: str | None) -> ErrorName:
    """The name of the error that ended a Parallel branch or a Map iteration, as its state reports it."""
    if error_name == _DATA_LIMIT.to_name():
        return StatesErrorName(typ=_DATA_LIMIT)
    return CustomErrorName(error_name=error_name)


def _refuse_over_limit(field: str, text: str | None) -> None:
    if text is not None and len(text.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
        raise ValidationException(f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
                                  f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}")


def _start_execution(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, name: Any = None,
                        execution_input: str | None = None, trace_header: Any = None) -> Any:
        _refuse_over_limit("input", execution_input)
        return original(self, state_machine_arn, name, execution_input, trace_header)

    return start_execution


def _send_task_success(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send_task_success(self: StepFunctionsParserBackend, task_token: str, outcome: str) -> Any:
        _refuse_over_limit("output", outcome)
        return original(self, task_token, outcome)

    return send_task_success


_PATCHES: tuple[tuple[object, str, Callable[[Any], Any]], ...] = (
    (CommonStateField, "_verify_size_quota", _verify_size_quota),
    (StateTaskService, "_verify_size_quota", _verify_size_quota),
    (StateTaskServiceDynamoDB, "_from_error", _from_error),
    (Parargs, "_eval_body", _parargs_eval_body),
    (ErrorEqualsDecl, "_eval_body", _error_equals_eval_body),
    (branches_decl, "CustomErrorName", lambda _: _branch_error_name),
    (iteration_worker, "CustomErrorName", lambda _: _branch_error_name),
    (StepFunctionsParserBackend, "start_execution", _start_execution),
    (StepFunctionsParserBackend, "send_task_success", _send_task_success),
)


def install() -> None:
    """Idempotent."""
    if _patched:
        return
    for owner, attribute, replace in _PATCHES:
        original = getattr(owner, attribute)
        _patched.append((owner, attribute, original))
        setattr(owner, attribute, replace(original))


def uninstall() -> None:
    for owner, attribute, original in reversed(_patched):
        setattr(owner, attribute, original)
    _patched.clear()


__all__ = ["MAX_PAYLOAD_BYTES", "install", "payload_bytes", "uninstall"]
