"""The fault plan of local/faults.py: which faults to inject, how often, from which seed, and the
scripted ones; and who is calling (a function the seam runs, or someone only looking), which the
plan's decisions take into account. local/faults.py hooks the plan into moto and botocore."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Per thread: `observing` (depth), `function` (the handler the seam runs), `backend_depth` (faults.py).
calls = threading.local()

TRANSACTION_CONFLICT = "transaction_conflict"
DYNAMODB_THROTTLE = "dynamodb_throttle"
LAMBDA_SERVICE_ERROR = "lambda_service_error"
SFN_THROTTLE = "sfn_throttle"
EVENTS_PARTIAL_FAILURE = "events_partial_failure"
EVENTS_THROTTLE = "events_throttle"
SLOW_ANSWER = "slow_answer"
PROCESS_DEATH = "process_death"
# What a caller may simply try again: the SDK's retries, the Task's Retry, mutate's backoff, the sweeps.
# (A slow answer is applied, and the SDK tries it again by itself: its repeat is what it exercises.)
RETRYABLE = (TRANSACTION_CONFLICT, DYNAMODB_THROTTLE, LAMBDA_SERVICE_ERROR, SFN_THROTTLE, EVENTS_PARTIAL_FAILURE,
             EVENTS_THROTTLE, SLOW_ANSWER)
KINDS = (*RETRYABLE, PROCESS_DEATH)

# The external effects after which a process may die: the table's change, a token completed, an
# event on the bus, an archive written, an execution started.
DEATH_POINTS = frozenset({
    "dynamodb.TransactWriteItems", "stepfunctions.SendTaskSuccess", "stepfunctions.SendTaskFailure",
    "stepfunctions.StartExecution", "events.PutEvents", "s3.PutObject",
})
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
DYNAMODB_OPERATIONS = {"put_item": "PutItem", "update_item": "UpdateItem", "delete_item": "DeleteItem",
                        "batch_write_item": "BatchWriteItem", "query": "Query"}
SFN_OPERATIONS = {"send_task_success": "SendTaskSuccess", "send_task_failure": "SendTaskFailure",
                   "start_execution": "StartExecution"}
_OPERATIONS = {  # the operations each kind may hit
    TRANSACTION_CONFLICT: frozenset({"dynamodb.TransactWriteItems"}),
    DYNAMODB_THROTTLE: frozenset({f"dynamodb.{op}" for op in (*DYNAMODB_OPERATIONS.values(), "TransactWriteItems")}),
    LAMBDA_SERVICE_ERROR: frozenset({"lambda.Invoke"}),
    SFN_THROTTLE: frozenset({f"stepfunctions.{op}" for op in SFN_OPERATIONS.values()}),
    EVENTS_PARTIAL_FAILURE: frozenset({"events.PutEvents"}),
    EVENTS_THROTTLE: frozenset({"events.PutEvents"}),
    # The calls whose repeat the SDK sends after a read timeout changes something or sees the change.
    SLOW_ANSWER: frozenset({
        *(f"dynamodb.{DYNAMODB_OPERATIONS[op]}" for op in DYNAMODB_WRITES), "dynamodb.TransactWriteItems",
        *(f"stepfunctions.{op}" for op in SFN_OPERATIONS.values()), "events.PutEvents",
    }),
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
    slow_answer: float = 0.0
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
        containing `match`; inside a function whose name contains `function`) get that fault. Each
        attempt of the SDK is a call: `refuse(SLOW_ANSWER, times=4)` on a handler's call loses the
        answer of every attempt (standard mode, 4), and the caller sees the ReadTimeoutError."""
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



# --- who is calling ---------------------------------------------------------------------------------


@contextmanager
def observing() -> Iterator[None]:
    """Calls made inside are someone looking at the stack (a test, a helper), not the product: no faults."""
    calls.observing = getattr(calls, "observing", 0) + 1
    try:
        yield
    finally:
        calls.observing -= 1


@contextmanager
def in_function(name: str) -> Iterator[None]:
    """The seam runs a handler of function `name` on this thread (random deaths hit only these)."""
    saved = getattr(calls, "function", None)
    calls.function = name
    try:
        yield
    finally:
        calls.function = saved


def _observing() -> bool:
    return bool(getattr(calls, "observing", 0))


def _local_function() -> str | None:
    found = getattr(calls, "function", None)
    return found if isinstance(found, str) else None
