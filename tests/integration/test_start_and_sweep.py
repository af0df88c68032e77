"""An `Approval Requested` event starts an approval exactly once; the sweep finishes a step whose
function died between settling it and completing its token, starts an execution that was
refused (or whose function died) after the approval was written, and sends due reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from approvals.commands import decide as decide_command
from approvals.commands.decide import decide
from approvals.commands.withdraw import withdraw
from approvals.sweeps.callbacks import sweep_callbacks
from approvals.sweeps.outbox import sweep_outbox
from approvals.sweeps.starts import sweep_starts
from approvals.wiring import Runtime
from local.stack import MotoStack


def test_approval_requested_event_starts_once(stack: MotoStack) -> None:
    detail = {"tenant": "acme", "flow": "leave-request", "requester": "ann", "approval_id": "evt-leave-1",
              "input": {"days": 1, "start_date": "2026-12-01"}}
    assert stack.publish("Approval Requested", detail) == [{"approval_id": "evt-leave-1", "started": True}]
    # EventBridge delivers at least once: the same event again starts nothing.
    assert stack.publish("Approval Requested", detail) == [{"approval_id": "evt-leave-1", "started": False}]
    stack.wait_for_open_step("evt-leave-1", "manager")
    status, output, _ = stack.drive("evt-leave-1", {"manager": "bob", "hr": "ivy"})
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved"
    starts = [e for e in stack.events("evt-leave-1") if e["detail-type"] == "Approval Started"]
    assert len(starts) == 1


def test_bad_approval_requested_event_starts_nothing(stack: MotoStack) -> None:
    good = {"tenant": "acme", "flow": "leave-request", "requester": "ann", "input": {"days": 1}}
    for detail in ({"tenant": "acme", "flow": "leave-request"},  # nobody asks
                   {**good, "tenant": "acme#U#ann"},  # a key space of its own
                   {**good, "approval_id": "x" * 65}):  # longer than the API could ever read back
        answers = stack.publish("Approval Requested", detail)
        assert len(answers) == 1 and answers[0]["errorType"] == "ValidationError", detail


def test_sweep_completes_a_token_left_behind_by_a_dead_function(
    stack: MotoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    stack.wait_for_open_step(approval_id, "manager")

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("the function died after the table write")

    monkeypatch.setattr(decide_command, "complete_token", die)
    with pytest.raises(SystemExit):
        decide_command.decide("acme", approval_id, "manager", "bob", "approve", rt=stack.rt)
    monkeypatch.undo()
    stage = stack.approval(approval_id).current("manager")
    assert stage is not None and stage.status.value == "approved" and stage.callback == "pending"
    # The machine still waits on the manager's token; nothing else opened.
    assert stack.describe(approval_id)["status"] == "RUNNING"

    later = Runtime(store=stack.rt.store, sfn=stack.rt.sfn, events=stack.rt.events, archive=stack.rt.archive,
                    now=lambda: stack.rt.now() + timedelta(minutes=1))
    assert sweep_callbacks(rt=later) == [{"tenant": "acme", "approval_id": approval_id}]
    # Once only: the stage left the sweep's index when its token was completed.
    assert sweep_callbacks(rt=later) == []
    stack.wait_for_open_step(approval_id, "hr")
    stage = stack.approval(approval_id).current("manager")
    assert stage is not None and stage.callback == "sent"


def test_scheduled_sweep_function_runs(stack: MotoStack) -> None:
    answer = stack.invoke("SweepFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})
    assert set(answer) == {"reminders", "recovered", "starts", "republished", "ended"}
    assert answer["ended"] == []  # the retry queue of ended executions is read (and empty)


def _refuse_starts(monkeypatch: pytest.MonkeyPatch, stack: MotoStack) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartExecution")

    monkeypatch.setattr(stack.rt.sfn, "start", refuse)


def _later(stack: MotoStack, by: timedelta) -> Runtime:
    return Runtime(store=stack.rt.store, sfn=stack.rt.sfn, events=stack.rt.events, archive=stack.rt.archive,
                   now=lambda: stack.rt.now() + by)


def _swept(stack: MotoStack, approval_id: str, by: timedelta) -> list[dict[str, Any]]:
    return [s for s in sweep_starts(rt=_later(stack, by)) if s["approval_id"] == approval_id]


def test_a_refused_start_is_started_by_the_sweep_once(stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_starts(monkeypatch, stack)
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    monkeypatch.undo()
    # Written and announced, so the caller's answer stands; nothing runs it yet.
    approval = stack.approval(approval_id)
    assert approval.status.value == "running" and approval.start_pending
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        stack.describe(approval_id)
    assert _swept(stack, approval_id, timedelta(seconds=5)) == []  # the request may still be starting it

    assert _swept(stack, approval_id, timedelta(minutes=2)) == [
        {"tenant": "acme", "approval_id": approval_id, "started": True, "failed": False}]
    assert _swept(stack, approval_id, timedelta(minutes=2)) == []
    stack.wait_for_open_step(approval_id, "manager")
    assert not stack.approval(approval_id).start_pending
    assert [e["type"] for e in stack.audit(approval_id)].count("Approval Started") == 1
    _end(stack, approval_id)


def test_a_start_refused_for_an_hour_fails_the_approval(stack: MotoStack, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_starts(monkeypatch, stack)
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    assert _swept(stack, approval_id, timedelta(minutes=2)) == [
        {"tenant": "acme", "approval_id": approval_id, "started": False, "failed": False}]  # tried again
    assert _swept(stack, approval_id, timedelta(hours=2)) == [
        {"tenant": "acme", "approval_id": approval_id, "started": False, "failed": True}]
    monkeypatch.undo()
    assert _swept(stack, approval_id, timedelta(hours=3)) == []
    approval = stack.approval(approval_id)
    assert approval.status.value == "failed" and approval.completed_at and not approval.start_pending
    completed = [e for e in stack.audit(approval_id) if e["type"] == "Approval Completed"]
    assert [e["data"]["outcome"] for e in completed] == ["failed"]
    told = [e for e in stack.events(approval_id) if e["detail-type"] == "Approval Completed"]
    assert len(told) == 1 and told[0]["detail"]["cc"] == ["ann"]


def test_events_eventbridge_refused_are_published_by_the_sweep(stack: MotoStack,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    stack.wait_for_open_step(approval_id, "manager")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("EventBridge refused Decision Recorded")

    monkeypatch.setattr(stack.rt.events, "put", refuse)
    # The decision is saved and answered as usual: the event waits in the outbox.
    after = decide("acme", approval_id, "manager", "bob", "approve", rt=stack.rt)
    monkeypatch.undo()
    assert after.current("manager") is not None and after.current("manager").status.value == "approved"
    decided = [e for e in stack.events(approval_id) if e["detail-type"] == "Decision Recorded"]
    assert decided == []
    stack.wait_for_open_step(approval_id, "hr")  # the run moved on: no change of it is still putting events
    # The sweep leaves an event its own change may still be putting (younger than a minute).
    later = Runtime(store=stack.rt.store, sfn=stack.rt.sfn, events=stack.rt.events, archive=stack.rt.archive,
                    now=lambda: stack.rt.now() + timedelta(minutes=2))
    assert sweep_outbox(rt=later) >= 1
    for _ in range(10):  # an event the run's next change is putting right now may be put twice: same id
        if sweep_outbox(rt=later) == 0:
            break
    assert sweep_outbox(rt=later) == 0  # published, then gone
    decided = [e for e in stack.events(approval_id) if e["detail-type"] == "Decision Recorded"]
    assert {(e["detail"]["user"], e["detail"]["decision"], e["detail"]["event_id"]) for e in decided} == {
        ("bob", "approve", decided[0]["detail"]["event_id"])}
    _end(stack, approval_id)


def _end(stack: MotoStack, approval_id: str) -> None:
    """Withdraw a run left waiting, so no execution outlives the module (its timeout would fire later)."""
    withdraw("acme", approval_id, "ann", rt=stack.rt)
    assert stack.wait_for_end(approval_id)[0] == "SUCCEEDED"
