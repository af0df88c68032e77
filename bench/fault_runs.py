"""Expected runs of the example flows under random faults (local/faults.py), and the count of what
went wrong: lost, stranded and doubled decisions, events and outcomes. The suite runs one bounded
round (tests/integration/test_faults.py); `python -m bench.soak` runs many.

`drive` starts the runs (each with an id of its own, so that a start tried again after an answer
that never came is the same approval), decides each stage as its people would (a 5xx, a 409 or a
request whose answer never came tried again, as a client of the API does), runs the sweeps when
nothing moves, until every execution ended and
nothing is left for a sweep. `tally` then reads what the product did, from moto (`Ledger`: the
outbox items of committed transactions, the token completions that reached a waiting Task) and
from the table, the audit trail and the bus."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError

from approvals.commands.start import start_approval
from approvals.domain import Approval, ApprovalExists, Conflict, StepStatus
from approvals.sweeps.callbacks import sweep_callbacks
from approvals.sweeps.outbox import sweep_outbox
from approvals.sweeps.starts import sweep_starts
from approvals.unit_of_work.ports import WriteContended
from approvals.wiring import Runtime
from local import faults
from local.stack import MotoStack

Run = tuple[str, dict[str, Any], dict[str, Sequence[str]], str, dict[str, str]]
# (flow, input, who decides each step ("name!" rejects), outcome, each step's last status): the
# expected runs at the top of flows/*.yaml (tests/integration/test_expected_runs.py).
RUNS: list[Run] = [
    ("leave-request", {"days": 1, "start_date": "2027-02-01"}, {"manager": ["bob"], "hr": ["ivy"]}, "approved",
     {"manager": "approved", "director": "skipped", "hr": "approved"}),
    ("leave-request", {"days": 5, "start_date": "2027-02-01"}, {"manager": ["bob!"]}, "rejected",
     {"manager": "rejected", "director": "skipped", "hr": "skipped"}),
    ("purchase-order", {"vendor": "Acme Supplies", "cost_center": "CC-100", "amount": 500},
     {"managers": ["bob", "carol"], "legal": ["gina"]}, "approved",
     {"managers": "approved", "board": "skipped", "finance": "skipped", "legal": "approved", "security": "skipped",
      "create-po": "succeeded", "notify-vendor": "succeeded"}),
    ("contract-review", {"counterparty": "Globex", "value": 25000, "region": "US"},
     {"legal": ["gina", "hank"], "committee": ["ivy", "jack", "kate"]}, "approved",
     {"legal": "approved", "eu-privacy": "skipped", "committee": "approved", "sign-contract": "succeeded"}),
    ("expense-claim", {"total": 120.5, "category": "meals", "reviewer": "dave", "receipts": ["r1.pdf"]},
     {"peer-review": ["dave"], "department": ["carol"]}, "approved",
     {"peer-review": "approved", "department": "approved", "cool-off": "skipped", "travel-desk": "skipped",
      "payout": "succeeded"}),
]
# What a client tries again: a refusal (5xx, 409), and a request whose answer never came (the SDK's
# read timeout on every attempt: a slow answer each time, local/faults.py), which it cannot tell apart
# from a 504.
TRANSIENT = (ClientError, WriteContended, Conflict, HTTPClientError)


@dataclass
class Tally:
    """What went wrong, by kind; `problems` says where. All 0 is the goal."""

    lost: int = 0  # a decision answered but not recorded, an event committed but never published
    stranded: int = 0  # an approval not ended as expected, a stage left open, work left for a sweep
    doubled: int = 0  # a stage settled twice, a token completed twice, two completions, a repeat that differs
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {what}")

    @property
    def clean(self) -> bool:
        return self.lost == self.stranded == self.doubled == 0


class Ledger:
    """What the product did, seen from moto while inside `recording()`."""

    def __init__(self) -> None:
        self.outbox: dict[str, dict[str, Any]] = {}  # event_id -> {"detail_type", "detail"}
        self.completions: Counter[str] = Counter()  # completions that reached a waiting Task
        # Completions sent for a Task already told (a sweep's, the SDK's repeat after a slow answer):
        # AWS refuses them (TaskTimedOut), and so does the local stack with faults on (local/faults.py).
        self.repeats: Counter[str] = Counter()

    @contextmanager
    def recording(self) -> Iterator[Ledger]:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        saved: list[tuple[Any, str, Any]] = [(DynamoDBBackend, "transact_write_items",
                                              DynamoDBBackend.transact_write_items)]
        saved += [(StepFunctionsParserBackend, n, getattr(StepFunctionsParserBackend, n))
                  for n in ("send_task_success", "send_task_failure")]
        transact = saved[0][2]

        def recorded(backend: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
            result = transact(backend, transact_items, *args, **kwargs)
            for item in transact_items:
                put = item.get("Put", {}).get("Item", {})
                if str(put.get("pk", {}).get("S", "")).endswith("#OUTBOX"):
                    self.outbox[put["sk"]["S"]] = {"detail_type": put["detail_type"]["S"],
                                                   "detail": json.loads(put["detail"]["S"])}
            return result

        def counting(original: Any) -> Any:
            def call(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
                waiting = _waiting(backend, task_token)
                if not waiting:
                    self.repeats[task_token] += 1
                result = original(backend, task_token, *args, **kwargs)
                if waiting:
                    self.completions[task_token] += 1
                return result
            return call

        setattr(DynamoDBBackend, "transact_write_items", recorded)  # noqa: B010 (setattr: mypy refuses a method assigned)
        for owner, name, original in saved[1:]:
            setattr(owner, name, counting(original))
        try:
            yield self
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)


def _waiting(backend: Any, task_token: str) -> bool:
    """Whether a Task still waits on `task_token` (moto's callback endpoint has no outcome yet)."""
    for machine in backend.state_machines:
        for execution in machine.executions:
            env = getattr(execution.exec_worker, "env", None)
            endpoint = env.callback_pool_manager.get(task_token) if env is not None else None
            if endpoint is not None:
                return endpoint.get_outcome() is None
    return False


def retrying(call: Callable[[], Any], attempts: int = 6) -> Any:
    """What a client of the API does with a 5xx or a 409: try again a moment later."""
    for attempt in range(attempts):
        try:
            return call()
        except TRANSIENT:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


def later(stack: MotoStack, by: timedelta = timedelta(minutes=2)) -> Runtime:
    """The stack's Runtime with a clock `by` ahead (a sweep acts only on what is old enough)."""
    rt = stack.rt
    return Runtime(store=rt.store, sfn=rt.sfn, events=rt.events, archive=rt.archive, signer=rt.signer,
                   now=lambda: rt.now() + by)


def sweep(stack: MotoStack) -> dict[str, Any]:
    """One round of the scheduled sweep's recoveries, two minutes ahead."""
    rt = later(stack)
    return {"callbacks": sweep_callbacks(rt=rt), "starts": sweep_starts(rt=rt), "outbox": sweep_outbox(rt=rt)}


def outbox_left(stack: MotoStack, approval_id: str, detail_type: str | None = None) -> list[dict[str, Any]]:
    """The approval's events still in the outbox (of `detail_type`, if given)."""
    with faults.observing():
        items = stack.store.pending_outbox("9999")
    return [i for i in items if json.loads(str(i["detail"])).get("approval_id") == approval_id
            and detail_type in (None, i["detail_type"])]


def drive(stack: MotoStack, runs: Sequence[Run] = RUNS, timeout: float = 90) -> list[str]:
    """Start `runs`, decide them, sweep, until each execution ended and nothing is left for a sweep.
    Returns the approval ids, in the order of `runs`. TimeoutError names what is still running."""
    started_at = time.monotonic()
    ids = [_start_once(stack, flow, data) for flow, data, *_ in runs]
    _running(stack, ids)
    people = {approval_id: run[2] for approval_id, run in zip(ids, runs, strict=True)}
    handled: set[tuple[str, str, int]] = set()
    running, idle_since = set(ids), time.monotonic()
    while running:
        if time.monotonic() - started_at > timeout:
            raise TimeoutError(f"still running after {timeout:.0f} s: {sorted(running)}")
        for approval_id in sorted(running):
            if _decide_open_stages(stack, approval_id, people[approval_id], handled):
                idle_since = time.monotonic()
            try:
                status = stack.describe(approval_id)["status"]
            except ClientError:  # not started yet: its start was refused, the sweep starts it
                status = "RUNNING"
            if status != "RUNNING":
                running.discard(approval_id)
        if time.monotonic() - idle_since > 2:  # stuck on a token or a start left behind
            retrying(lambda: sweep(stack))
            _running(stack, sorted(running))
            idle_since = time.monotonic()
        time.sleep(0.05)
    for _ in range(10):  # the sweeps, until there is nothing left for them
        if _quiet(stack, ids):
            break
        retrying(lambda: sweep(stack))
    return ids


def _decide_open_stages(stack: MotoStack, approval_id: str, people: Mapping[str, Sequence[str]],
                        handled: set[tuple[str, str, int]]) -> bool:
    progressed = False
    for stage in stack.approval(approval_id).steps:
        key = (approval_id, stage.step, stage.stage)
        if stage.status is not StepStatus.OPEN or key in handled:
            continue
        if stage.step not in people:
            raise AssertionError(f"unexpected step {stage.step} opened in {approval_id}")
        handled.add(key)
        progressed = True
        for who in people[stage.step]:
            user, decision = (who[:-1], "reject") if who.endswith("!") else (who, "approve")
            retrying(partial(_decide_once, stack, approval_id, stage.step, user, decision))
            current = stack.approval(approval_id).current(stage.step)
            if current is None or current.status is not StepStatus.OPEN:
                break
    return progressed


def _start_once(stack: MotoStack, flow: str, data: Mapping[str, Any]) -> str:
    """Start an approval under an id chosen here, tried again until an attempt is answered: one that
    finds the approval written by an earlier attempt (whose answer was lost) is done, and the sweeps
    start its execution and publish its event if that attempt stopped before them."""
    approval_id = uuid.uuid4().hex

    def start() -> str:
        try:
            return start_approval(stack.tenant, flow, stack.version_of(flow), "ann", data, approval_id=approval_id,
                                  rt=stack.rt)
        except ApprovalExists:
            return approval_id

    found: str = retrying(start)
    return found


def _decide_once(stack: MotoStack, approval_id: str, step: str, user: str, decision: str) -> None:
    try:
        stack.decide(approval_id, step, user, decision)
    except Conflict as error:  # an earlier attempt was recorded (its answer was lost): done
        if type(error).__name__ in ("AlreadyDecided", "StepNotOpen"):
            return
        raise


def _running(stack: MotoStack, approval_ids: Sequence[str], timeout: float = 10) -> None:
    """Wait until each execution that exists has begun (has a history). moto's SendTaskSuccess walks
    every RUNNING execution and fails with AttributeError on one whose worker has not begun yet
    (exec_worker.env is None): a race of moto's, not of the product's, kept out of these runs."""
    deadline = time.monotonic() + timeout
    for approval_id in approval_ids:
        while True:
            try:
                if stack.history(approval_id):
                    break
            except ClientError:  # not started (refused): the start sweep starts it
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{approval_id} never began")
            time.sleep(0.02)


def _quiet(stack: MotoStack, approval_ids: Sequence[str]) -> bool:
    """Nothing left for a sweep: no token pending, no start pending, no event in the outbox."""
    for approval_id in approval_ids:
        approval = stack.approval(approval_id)
        if approval.start_pending or outbox_left(stack, approval_id):
            return False
        if any(s.callback == "pending" for s in approval.steps):
            return False
    return True


def tally(stack: MotoStack, ledger: Ledger, ids: Sequence[str], runs: Sequence[Run] = RUNS) -> Tally:
    """Lost, stranded and doubled, for the approvals `ids` of `runs` (driven to their end)."""
    found = Tally()
    seen = stack.events()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in seen:
        by_id.setdefault(str(event["detail"].get("event_id")), []).append(event)
    for approval_id, (flow, _, _, outcome, statuses) in zip(ids, runs, strict=True):
        where = f"{flow} {approval_id}"
        status, output = stack.wait_for_end(approval_id)
        approval: Approval = stack.approval(approval_id)
        with faults.observing():
            archived = stack.store.archive_pointer(approval.tenant, approval_id)
        if status != "SUCCEEDED" or not output or output.get("outcome") != outcome:
            found.add("stranded", f"{where}: execution {status}, output {output}")
        if approval.status.value != outcome or not approval.completed_at or not archived:
            found.add("stranded", f"{where}: {approval.status.value}, completed {approval.completed_at}, "
                                  f"archived {archived}")
        latest = {step: approval.current(step) for step in dict.fromkeys(s.step for s in approval.steps)}
        got = {step: s.status.value for step, s in latest.items() if s is not None}
        if got != statuses:
            found.add("stranded", f"{where}: steps {got}")
        audit = stack.audit(approval_id)
        settled = Counter((e["data"]["step"], e["data"]["stage"]) for e in audit if e["type"] == "Step Settled")
        for key, n in settled.items():
            if n > 1:
                found.add("doubled", f"{where}: stage {key} settled {n} times")
        for stage in approval.steps:
            users = Counter(d.user for d in stage.decisions)
            for user, n in users.items():
                if n > 1:
                    found.add("doubled", f"{where}: {user} decided {stage.step}/{stage.stage} {n} times")
            if stage.task_token:  # each human stage's token completed exactly once
                if stage.status is StepStatus.OPEN or stage.callback not in ("sent", "gone"):
                    found.add("stranded", f"{where}: stage {stage.step}/{stage.stage} {stage.status.value}, "
                                          f"callback {stage.callback}")
                n = ledger.completions[stage.task_token]
                if n != 1:
                    found.add("doubled" if n > 1 else "stranded", f"{where}: {stage.step} token completed {n} times")
        mine = {event_id: e for event_id, e in ledger.outbox.items() if e["detail"].get("approval_id") == approval_id}
        for event_id, event in mine.items():
            if event_id not in by_id:
                found.add("lost", f"{where}: {event['detail_type']} {event_id} never published")
        completions = {event_id for event_id, e in mine.items() if e["detail_type"] == "Approval Completed"}
        if len(completions) != 1:
            found.add("doubled" if completions else "lost", f"{where}: {len(completions)} Approval Completed")
        if outbox_left(stack, approval_id):
            found.add("stranded", f"{where}: events left in the outbox")
    for event_id, copies in by_id.items():  # a repeat is the same event
        if any((c["detail-type"], c["detail"]) != (copies[0]["detail-type"], copies[0]["detail"]) for c in copies):
            found.add("doubled", f"event {event_id} repeated with another content")
    return found
