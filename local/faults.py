"""Fault injection: the local stack failing now and then the way AWS does (docs/local-aws.md,
"Fault injection"). Off unless asked for: `MotoStack(faults=FaultPlan(seed=7, dynamodb_throttle=0.05))`,
or `APPROVALS_FAULTS=seed:rate` in the environment of whatever starts a `MotoStack` (`make serve`).

The plan (kinds, rates, seeding, scripted faults, who is calling) is local/fault_plan.py; this
module hooks it into moto and botocore, and re-exports it.

What is injected, and where (the table in docs/local-aws.md says what the caller sees):

- `transaction_conflict`: `TransactWriteItems` cancelled (`TransactionCanceledException`, one
  `TransactionConflict` among its `CancellationReasons`), raised in moto's DynamoDB backend before
  the transaction is applied, so nothing is written;
- `dynamodb_throttle`: `ProvisionedThroughputExceededException` or `ThrottlingException` on a write
  or a `Query`, in the same place;
- `lambda_service_error`: Step Functions' `lambda:invoke` answered `ServiceException` (500) or
  `TooManyRequestsException` (429) before the function runs, on the ASL interpreter's Lambda client
  (made in local/lambda_seam.py);
- `sfn_throttle`: `ThrottlingException` on `SendTaskSuccess`, `SendTaskFailure`, `StartExecution`,
  in moto's Step Functions backend;
- `events_partial_failure`: `PutEvents` answering `FailedEntryCount` 1 with the entry's `ErrorCode`
  `InternalFailure` (the entry goes to no rule), and `events_throttle`: `ThrottlingException` on
  `PutEvents`, in moto's EventBridge backend;
- `slow_answer`: a DynamoDB write (`PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem`,
  `TransactWriteItems`), `SendTaskSuccess`, `SendTaskFailure`, `StartExecution` or `PutEvents` is
  applied, and its answer comes after the client's read timeout: the client sees botocore's
  `ReadTimeoutError` instead of the answer (nobody waits for it), its retries (standard or legacy
  mode) send the same request again, and the repeat meets the world after the first one, as on
  AWS. In botocore's `Endpoint._do_get_response`, once moto answered 2xx. What a repeat meets is
  AWS's answer, and two of those moto does not give, so the hooks give them:
  a `TransactWriteItems` repeated with its `ClientRequestToken` (botocore sets one on every call,
  the same on each retry) is answered success and applies nothing, for 10 minutes
  (`IdempotentParameterMismatchException` with other items); a `SendTaskSuccess` or
  `SendTaskFailure` of a token already completed gets `TaskTimedOut` ("the task associated with
  the token has already been closed"; moto would take it and ignore it);
- `process_death`: `ProcessDied` raised right after a call of `DEATH_POINTS` succeeded, in the
  thread that made it (botocore's `BaseClient._make_api_call`); a handler that the seam runs
  reports it as `Lambda.Unknown`, as Step Functions reports a crashed function.

The errors are raised where moto answers, so botocore parses them as it parses AWS's, and its
retries (the handlers' clients: standard mode) absorb most throttling, as they would on AWS.

Every decision comes from a `random.Random` seeded with the plan's seed and the kind, so one
kind's draws do not shift when another kind's rate changes, and one sequence of calls always gets
the same faults. Calls made on several threads at once (the interpreter, Parallel branches, the
test) draw in the order they happen to come, which varies: a concurrent run gets the same kinds at
the same rates, not always in the same calls.
`FaultPlan.counts` counts what was injected, by kind (`FaultPlan.where`, by kind and operation).

Besides rates, a plan takes scripted faults, which fire regardless of the rates:
`plan.crash_after("dynamodb.TransactWriteItems", match="Decision Recorded")` (the next call whose
parameters contain the text dies after it succeeded), `plan.refuse(SFN_THROTTLE,
operation="stepfunctions.StartExecution", times=4)`.

Random deaths only hit handlers the Lambda seam runs (`in_function`). What the tests do to look at
the stack runs `observing()` and is never faulted; with moto as a server that holds for deaths
only, since the backend answers on the server's threads, where it is not known.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .fault_plan import (
    DEATH_POINTS,
    DYNAMODB_OPERATIONS,
    DYNAMODB_THROTTLE,
    DYNAMODB_WRITES,
    ENV,
    EVENTS_PARTIAL_FAILURE,
    EVENTS_THROTTLE,
    KINDS,
    LAMBDA_SERVICE_ERROR,
    PROCESS_DEATH,
    RETRYABLE,
    SFN_OPERATIONS,
    SFN_THROTTLE,
    SLOW_ANSWER,
    TRANSACTION_CONFLICT,
    FaultPlan,
    ProcessDied,
    calls,
    in_function,
    observing,
)

__all__ = [
    "DEATH_POINTS", "DYNAMODB_THROTTLE", "EVENTS_PARTIAL_FAILURE", "EVENTS_THROTTLE", "KINDS",
    "LAMBDA_SERVICE_ERROR", "PROCESS_DEATH", "RETRYABLE", "SFN_THROTTLE", "SLOW_ANSWER", "TRANSACTION_CONFLICT",
    "ENV", "FaultPlan", "ProcessDied", "active", "from_environment", "hook_interpreter_client", "in_function",
    "install", "observing", "uninstall", "using",
]


# --- which plan ---------------------------------------------------------

_plan: FaultPlan | None = None
_install_lock = threading.Lock()
_originals: list[tuple[Any, str, Any]] = []


def active() -> FaultPlan | None:
    return _plan


@contextmanager
def using(plan: FaultPlan) -> Iterator[FaultPlan]:
    """`plan` instead of the installed one while inside (the hooks must be installed)."""
    global _plan
    if not _originals:
        raise RuntimeError("fault injection is not installed (MotoStack(faults=FaultPlan(...)))")
    saved, _plan = _plan, plan
    try:
        yield plan
    finally:
        _plan = saved


# --- the errors, as AWS shapes them --------------------------------------------------------------


def _dynamodb_throttle(plan: FaultPlan) -> Exception:
    from moto.dynamodb.exceptions import DynamodbException

    if plan.choose(DYNAMODB_THROTTLE, (True, False)):
        return DynamodbException(
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
            "provisioning level with the UpdateTable API.")
    return DynamodbException("com.amazon.coral.availability#ThrottlingException",
                             "Throughput exceeds the current capacity of your table or index. DynamoDB is "
                             "automatically scaling your table or index so please try again shortly.")


def _transaction_conflict(plan: FaultPlan, transact_items: Any) -> Exception:
    from moto.dynamodb.exceptions import TransactionCanceledException

    count = len(transact_items) if isinstance(transact_items, list) and transact_items else 1
    conflicted = plan.choose(TRANSACTION_CONFLICT, tuple(range(count)))
    reasons: list[tuple[str | None, str | None, Any]] = [(None, None, None)] * count
    reasons[conflicted] = ("TransactionConflict", "Transaction is ongoing for the item", None)
    return TransactionCanceledException(reasons)


def _throttling(message: str = "Rate exceeded") -> Exception:
    from moto.core.exceptions import AWSError

    return AWSError(message, "ThrottlingException", 400)


def _task_closed() -> Exception:
    # (moto's own TaskTimedOut carries no error type: botocore would read an empty code.)
    from moto.core.exceptions import AWSError

    return AWSError("Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut", 400)


# --- the hooks ----------------------------------------------------------------------------------


def _text(*values: Any) -> Callable[[], str]:
    return lambda: json.dumps(values, default=str)


def _patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, name)
    _originals.append((owner, name, original))
    setattr(owner, name, make(original))


@contextmanager
def _outermost() -> Iterator[bool]:
    """True for the backend call a request made, False for those moto makes inside it (a
    transaction puts its items with `put_item`): only the request's own call may be faulted."""
    depth = getattr(calls, "backend_depth", 0)
    calls.backend_depth = depth + 1
    try:
        yield depth == 0
    finally:
        calls.backend_depth = depth


def _dynamodb_hooks() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    def transact(original: Any) -> Any:
        def transact_write_items(self: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
            plan, op = _plan, "dynamodb.TransactWriteItems"
            with _outermost() as outermost:
                if plan is not None and outermost:
                    if plan.decide(TRANSACTION_CONFLICT, op, _text(transact_items)):
                        raise _transaction_conflict(plan, transact_items)
                    if plan.decide(DYNAMODB_THROTTLE, op, _text(transact_items)):
                        raise _dynamodb_throttle(plan)
                return original(self, transact_items, *args, **kwargs)
        return transact_write_items

    _patch(DynamoDBBackend, "transact_write_items", transact)

    for name in (*DYNAMODB_WRITES, "query"):
        def throttled(original: Any, op: str = f"dynamodb.{DYNAMODB_OPERATIONS[name]}") -> Any:
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                plan = _plan
                with _outermost() as outermost:
                    if plan is not None and outermost and plan.decide(DYNAMODB_THROTTLE, op, _text(args, kwargs)):
                        raise _dynamodb_throttle(plan)
                    return original(self, *args, **kwargs)
            return call

        _patch(DynamoDBBackend, name, throttled)


def _stepfunctions_hooks() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for name, operation in SFN_OPERATIONS.items():
        def throttled(original: Any, op: str = f"stepfunctions.{operation}") -> Any:
            completes = op != "stepfunctions.StartExecution"

            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                plan = _plan
                if plan is not None and plan.decide(SFN_THROTTLE, op, _text(args, kwargs)):
                    raise _throttling()
                token = kwargs.get("task_token", args[0] if args else None)
                if completes and isinstance(token, str) and _completed(self, token):
                    # AWS refuses a second completion of a token; moto would take it and ignore it.
                    raise _task_closed()
                return original(self, *args, **kwargs)
            return call

        _patch(StepFunctionsParserBackend, name, throttled)


def _completed(backend: Any, task_token: str) -> bool:
    """Whether the Task waiting on `task_token` was told its outcome already (moto's callback endpoint)."""
    for machine in list(backend.state_machines):
        for execution in list(machine.executions):
            env = getattr(getattr(execution, "exec_worker", None), "env", None)
            endpoint = env.callback_pool_manager.get(task_token) if env is not None else None
            if endpoint is not None:
                return endpoint.get_outcome() is not None
    return False


# How long DynamoDB keeps a transaction's ClientRequestToken (its documentation: 10 minutes).
TOKEN_WINDOW = 600.0


def _transaction_tokens_hook() -> None:
    """TransactWriteItems with a ClientRequestToken seen in the last 10 minutes: success and nothing
    applied when it carries the same items (the SDK's retry of a call whose answer was lost),
    IdempotentParameterMismatchException when not. moto ignores the token."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    applied: OrderedDict[str, tuple[str, float]] = OrderedDict()  # token -> (digest of the items, when)
    lock = threading.Lock()

    def wrap(original: Any) -> Any:
        def transact_write_items(self: Any) -> Any:
            token = self.body.get("ClientRequestToken") if isinstance(self.body, dict) else None
            if not token:
                return original(self)
            items = json.dumps(self.body.get("TransactItems"), sort_keys=True, default=str)
            digest = hashlib.sha256(items.encode()).hexdigest()
            now = time.monotonic()
            with lock:
                while applied and next(iter(applied.values()))[1] < now - TOKEN_WINDOW:
                    applied.popitem(last=False)
                found = applied.get(token)
            if found is not None:
                if found[0] != digest:
                    raise DynamodbException(
                        "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                        "Request parameters did not match the request made with the same client token")
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            result = original(self)  # raises when cancelled: only an applied transaction is remembered
            with lock:
                applied[token] = (digest, now)
            return result
        return transact_write_items

    _patch(DynamoHandler, "transact_write_items", wrap)


def _events_hooks() -> None:
    from moto.events.models import EventsBackend

    def put(original: Any) -> Any:
        def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            plan, op = _plan, "events.PutEvents"
            # Step Functions' own status change events (local/execution_events.py) are AWS's, not a PutEvents.
            ours = [e for e in events if not str(e.get("Source", "")).startswith("aws.")]
            if plan is None or not ours:
                return list(original(self, events))
            if plan.decide(EVENTS_THROTTLE, op, _text(events)):
                raise _throttling()
            refused = [not str(e.get("Source", "")).startswith("aws.") and plan.decide(EVENTS_PARTIAL_FAILURE, op,
                                                                                      _text(e)) for e in events]
            kept = [e for e, no in zip(events, refused, strict=True) if not no]
            answers = iter(original(self, kept) if kept else [])
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error."} if no
                    else next(answers) for no in refused]
        return put_events

    _patch(EventsBackend, "put_events", put)


def _answers_hook() -> None:
    """Slow answers: the request reached moto and was applied (2xx), then the client's read timeout
    fired before the answer came. botocore's retry handler (standard and legacy mode) takes the
    ReadTimeoutError and sends the request again, as it would to AWS; no one waits for the timeout."""
    from botocore.endpoint import Endpoint
    from botocore.exceptions import ReadTimeoutError

    def wrap(original: Any) -> Any:
        def _do_get_response(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
            answered = original(self, request, operation_model, context)
            plan, (success, _) = _plan, answered
            if plan is None or success is None or not 200 <= success[0].status_code < 300:
                return answered
            operation = f"{operation_model.service_model.service_name}.{operation_model.name}"
            if operation == "events.PutEvents" and not _our_events(request.body):
                return answered  # Step Functions' own status change events (local/execution_events.py)
            if not plan.decide(SLOW_ANSWER, operation, lambda: _body_text(request.body)):
                return answered
            return None, ReadTimeoutError(endpoint_url=request.url, error="the answer came too late (injected)")
        return _do_get_response

    _patch(Endpoint, "_do_get_response", wrap)


def _body_text(body: Any) -> str:
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    try:
        return json.dumps([json.loads(text)], default=str)  # as the other hooks give parameters
    except ValueError:
        return text


def _our_events(body: Any) -> bool:
    try:
        entries = json.loads(body.decode() if isinstance(body, bytes) else str(body)).get("Entries", [])
    except (ValueError, AttributeError):
        return True
    return any(not str(e.get("Source", "")).startswith("aws.") for e in entries)


def _calls_hook() -> None:
    """Every botocore client's calls, whenever the client was made (the handlers' Runtime may hold
    clients older than the plan): the process dies right after a call of DEATH_POINTS succeeded."""
    from botocore.client import BaseClient

    def wrap(original: Any) -> Any:
        def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
            result = original(self, operation_name, api_params)  # raises when the call failed
            plan = _plan
            if plan is not None:
                operation = f"{self.meta.service_model.service_name}.{operation_name}"
                if operation in DEATH_POINTS and plan.decide(PROCESS_DEATH, operation, _text(api_params)):
                    raise ProcessDied(f"the process died right after {operation} succeeded")
            return result
        return _make_api_call

    _patch(BaseClient, "_make_api_call", wrap)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def hook_interpreter_client(client: Any) -> None:
    """The ASL interpreter's Lambda client (made for each Task by local/lambda_seam.py): Lambda's
    service errors on invoke, answered before the function runs. The interpreter's client does not
    retry: the Task's Retry sees each one."""
    if not _originals:
        return

    def refuse(model: Any, params: Any = None, **kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
        plan = _plan
        if plan is None or not plan.decide(LAMBDA_SERVICE_ERROR, "lambda.Invoke", _text(params)):
            return None
        from botocore.awsrequest import AWSResponse

        code, status, message = plan.choose(LAMBDA_SERVICE_ERROR, (
            ("ServiceException", 500, "Lambda was unable to process the request (injected)"),
            ("TooManyRequestsException", 429, "Rate Exceeded. (injected)"),
        ))
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": code}
        body = json.dumps({"Type": "Service", "message": message}).encode()
        url = str(params.get("url", "")) if isinstance(params, dict) else ""
        http = AWSResponse(url, status, headers, _Body(body))
        parsed = {"Error": {"Code": code, "Message": message}, "Message": message,
                  "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers,
                                       "RetryAttempts": 0}}
        return http, parsed

    client.meta.events.register("before-call.lambda.Invoke", refuse)


def install(plan: FaultPlan) -> None:
    """Hook faults into moto and botocore (idempotent) and make `plan` the one that decides."""
    global _plan
    with _install_lock:
        _plan = plan
        if _originals:
            return
        _dynamodb_hooks()
        _stepfunctions_hooks()
        _events_hooks()
        _transaction_tokens_hook()
        _answers_hook()
        _calls_hook()


def uninstall() -> None:
    """Take the hooks out again (interpreter clients made meanwhile keep theirs, which do nothing
    without a plan)."""
    global _plan
    with _install_lock:
        _plan = None
        for owner, name, original in reversed(_originals):
            setattr(owner, name, original)
        _originals.clear()


def from_environment(environ: Mapping[str, str]) -> FaultPlan | None:
    """The plan APPROVALS_FAULTS asks for, if any."""
    text = environ.get(ENV, "").strip()
    return FaultPlan.from_setting(text) if text else None
