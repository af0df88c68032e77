"""Fault injection: the local stack failing now and then the way AWS does (docs/local-aws.md,
"Fault injection"). Off unless asked for: `MotoStack(faults=FaultPlan(seed=7, dynamodb_throttle=0.05))`,
or `APPROVALS_FAULTS=seed:rate` in the environment of whatever starts a `MotoStack` (`make serve`).

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

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEATH_POINTS", "DYNAMODB_THROTTLE", "EVENTS_PARTIAL_FAILURE", "EVENTS_THROTTLE", "KINDS",
    "LAMBDA_SERVICE_ERROR", "PROCESS_DEATH", "RETRYABLE", "SFN_THROTTLE", "TRANSACTION_CONFLICT",
    "ENV", "FaultPlan", "ProcessDied", "active", "from_environment", "hook_interpreter_client", "in_function",
    "install", "observing", "uninstall", "using",
]

TRANSACTION_CONFLICT = "transaction_conflict"
DYNAMODB_THROTTLE = "dynamodb_throttle"
LAMBDA_SERVICE_ERROR = "lambda_service_error"
SFN_THROTTLE = "sfn_throttle"
EVENTS_PARTIAL_FAILURE = "events_partial_failure"
EVENTS_THROTTLE = "events_throttle"
PROCESS_DEATH = "process_death"
# What a caller may simply try again: the SDK's retries, the Task's Retry, mutate's backoff, the sweeps.
RETRYABLE = (TRANSACTION_CONFLICT, DYNAMODB_THROTTLE, LAMBDA_SERVICE_ERROR, SFN_THROTTLE, EVENTS_PARTIAL_FAILURE,
             EVENTS_THROTTLE)
KINDS = (*RETRYABLE, PROCESS_DEATH)

# The external effects after which a process may die: the table's change, a token completed, an
# event on the bus, an archive written, an execution started.
DEATH_POINTS = frozenset({
    "dynamodb.TransactWriteItems", "stepfunctions.SendTaskSuccess", "stepfunctions.SendTaskFailure",
    "stepfunctions.StartExecution", "events.PutEvents", "s3.PutObject",
})
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_DYNAMODB_OPERATIONS = {"put_item": "PutItem", "update_item": "UpdateItem", "delete_item": "DeleteItem",
                        "batch_write_item": "BatchWriteItem", "query": "Query"}
_SFN_OPERATIONS = {"send_task_success": "SendTaskSuccess", "send_task_failure": "SendTaskFailure",
                   "start_execution": "StartExecution"}
_OPERATIONS = {  # the operations each kind may hit
    TRANSACTION_CONFLICT: frozenset({"dynamodb.TransactWriteItems"}),
    DYNAMODB_THROTTLE: frozenset({f"dynamodb.{op}" for op in (*_DYNAMODB_OPERATIONS.values(), "TransactWriteItems")}),
    LAMBDA_SERVICE_ERROR: frozenset({"lambda.Invoke"}),
    SFN_THROTTLE: frozenset({f"stepfunctions.{op}" for op in _SFN_OPERATIONS.values()}),
    EVENTS_PARTIAL_FAILURE: frozenset({"events.PutEvents"}),
    EVENTS_THROTTLE: frozenset({"events.PutEvents"}),
    PROCESS_DEATH: DEATH_POINTS,
}
ENV = "APPROVALS_FAULTS"


class ProcessDied(SystemExit):
    """The process running the code died right after an external call succeeded. A SystemExit, so
    that no `except Exception` of the product runs on after it, as nothing would in a dead process."""


@dataclass
class _Scripted:
    kind: str
    operation: str | None
    match: tuple[str, ...]
    function: str
    times: int


@dataclass
class FaultPlan:
    """Which faults to inject and how often (each rate a probability per call it may hit), from
    `seed`. All rates 0 (the default) injects nothing but what is scripted."""

    seed: int = 0
    transaction_conflict: float = 0.0
    dynamodb_throttle: float = 0.0
    lambda_service_error: float = 0.0
    sfn_throttle: float = 0.0
    events_partial_failure: float = 0.0
    events_throttle: float = 0.0
    process_death: float = 0.0
    death_points: frozenset[str] = DEATH_POINTS
    counts: Counter[str] = field(default_factory=Counter, init=False, compare=False)
    where: Counter[str] = field(default_factory=Counter, init=False, compare=False)  # "kind operation"
    _randoms: dict[str, random.Random] = field(default_factory=dict, init=False, repr=False, compare=False)
    _scripted: list[_Scripted] = field(default_factory=list, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind in KINDS:
            rate = self.rate(kind)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the rate of {kind} must be between 0 and 1, not {rate}")
            self._randoms[kind] = random.Random(f"{self.seed}:{kind}")
        unknown = self.death_points - DEATH_POINTS
        if unknown:
            raise ValueError(f"no death point {sorted(unknown)}; there are {sorted(DEATH_POINTS)}")

    @classmethod
    def of(cls, seed: int, rates: Mapping[str, float]) -> FaultPlan:
        """A plan with the rates of `rates` (kind -> rate), the other kinds at 0."""
        unknown = set(rates) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kind {sorted(unknown)} (kinds: {', '.join(KINDS)})")
        plan = cls(seed)
        for kind, rate in rates.items():
            setattr(plan, kind, float(rate))
        plan.__post_init__()  # checks the rates again
        return plan

    @classmethod
    def retryable(cls, seed: int, rate: float) -> FaultPlan:
        """Every retryable kind at `rate`; no deaths."""
        return cls.of(seed, dict.fromkeys(RETRYABLE, rate))

    @classmethod
    def from_setting(cls, text: str) -> FaultPlan:
        """`seed:rate` (every retryable kind at that rate) or `seed:kind=rate,kind=rate,...`
        (APPROVALS_FAULTS)."""
        seed, sep, rates = text.strip().partition(":")
        try:
            if not sep or not rates:
                raise ValueError("no rate")
            if "=" not in rates:
                return cls.retryable(int(seed), float(rates))
            chosen: dict[str, float] = {}
            for part in rates.split(","):
                kind, _, rate = part.partition("=")
                chosen[kind.strip()] = float(rate)
            return cls.of(int(seed), chosen)
        except ValueError as error:
            raise ValueError(f"{ENV}={text!r}: expected seed:rate or seed:kind=rate,...: {error}") from None

    def rate(self, kind: str) -> float:
        value = getattr(self, kind)
        assert isinstance(value, float | int), kind
        return float(value)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    # --- scripted faults ------------------------------------------------------------

    def crash_after(self, operation: str, *, match: str | tuple[str, ...] = (), function: str = "",
                    times: int = 1) -> None:
        """The next `times` calls of `operation` ("dynamodb.TransactWriteItems", one of DEATH_POINTS)
        whose parameters contain `match` (each of the texts, if several), made inside a function
        whose name contains `function` (if given), die right after they succeed."""
        if operation not in DEATH_POINTS:
            raise ValueError(f"no death point {operation!r}; there are {sorted(DEATH_POINTS)}")
        with self._lock:
            self._scripted.append(_Scripted(PROCESS_DEATH, operation, _texts(match), function, times))

    def refuse(self, kind: str, *, operation: str | None = None, match: str | tuple[str, ...] = (),
               function: str = "", times: int = 1) -> None:
        """The next `times` calls that `kind` may hit (of `operation`, if given; parameters
        containing `match`; inside a function whose name contains `function`) get that fault."""
        if kind not in RETRYABLE:
            raise ValueError(f"no retryable kind {kind!r}; there are {', '.join(RETRYABLE)}")
        if operation is not None and operation not in _OPERATIONS[kind]:
            raise ValueError(f"{kind} does not hit {operation}; it hits {sorted(_OPERATIONS[kind])}")
        with self._lock:
            self._scripted.append(_Scripted(kind, operation, _texts(match), function, times))

    def pending(self) -> int:
        """Scripted faults not injected yet."""
        with self._lock:
            return sum(s.times for s in self._scripted)

    def clear(self) -> None:
        """Forget the scripted faults left."""
        with self._lock:
            self._scripted.clear()

    # --- decisions --------------------------------------------------------------------

    def decide(self, kind: str, operation: str, params: Callable[[], str] = lambda: "") -> bool:
        """Whether to inject `kind` into this call of `operation`; counted when it does. `params`
        gives the call's parameters as text, asked for only by a scripted fault that matches on them."""
        if operation not in _OPERATIONS[kind] or _observing():
            return False
        function = _local_function()
        text: list[str] = []

        def called_with() -> str:
            if not text:
                text.append(params())
            return text[0]

        with self._lock:
            for scripted in self._scripted:
                if scripted.kind != kind or (scripted.operation or operation) != operation:
                    continue
                if scripted.function and (function is None or scripted.function not in function):
                    continue
                if scripted.match and not all(t in called_with() for t in scripted.match):
                    continue
                scripted.times -= 1
                if scripted.times <= 0:
                    self._scripted.remove(scripted)
                return self._count(kind, operation)
            rate = self.rate(kind)
            if rate <= 0.0:
                return False
            if kind == PROCESS_DEATH and (function is None or operation not in self.death_points):
                return False  # only a function's process dies at random, not the test's or the interpreter's
            if self._randoms[kind].random() >= rate:
                return False
            return self._count(kind, operation)

    def choose(self, kind: str, options: tuple[Any, ...]) -> Any:
        """One of `options`, from the kind's own random (which error code, which item)."""
        with self._lock:
            return self._randoms[kind].choice(options)

    def _count(self, kind: str, operation: str) -> bool:
        self.counts[kind] += 1
        self.where[f"{kind} {operation}"] += 1
        return True


def _texts(match: str | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in ((match,) if isinstance(match, str) else match) if t)


# --- which plan, and who is calling ---------------------------------------------------------

_plan: FaultPlan | None = None
_local = threading.local()
_install_lock = threading.Lock()
_originals: list[tuple[Any, str, Any]] = []


def active() -> FaultPlan | None:
    return _plan


@contextmanager
def observing() -> Iterator[None]:
    """Calls made inside are someone looking at the stack (a test, a helper), not the product: no faults."""
    _local.observing = getattr(_local, "observing", 0) + 1
    try:
        yield
    finally:
        _local.observing -= 1


@contextmanager
def in_function(name: str) -> Iterator[None]:
    """The seam runs a handler of function `name` on this thread (random deaths hit only these)."""
    saved = getattr(_local, "function", None)
    _local.function = name
    try:
        yield
    finally:
        _local.function = saved


def _observing() -> bool:
    return bool(getattr(_local, "observing", 0))


def _local_function() -> str | None:
    found = getattr(_local, "function", None)
    return found if isinstance(found, str) else None


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
    depth = getattr(_local, "backend_depth", 0)
    _local.backend_depth = depth + 1
    try:
        yield depth == 0
    finally:
        _local.backend_depth = depth


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

    for name in (*_DYNAMODB_WRITES, "query"):
        def throttled(original: Any, op: str = f"dynamodb.{_DYNAMODB_OPERATIONS[name]}") -> Any:
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

    for name, operation in _SFN_OPERATIONS.items():
        def throttled(original: Any, op: str = f"stepfunctions.{operation}") -> Any:
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                plan = _plan
                if plan is not None and plan.decide(SFN_THROTTLE, op, _text(args, kwargs)):
                    raise _throttling()
                return original(self, *args, **kwargs)
            return call

        _patch(StepFunctionsParserBackend, name, throttled)


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
