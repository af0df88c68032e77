"""FinishFunction and the flow's `on_<outcome>: notify` (approvals.machine.finish): who is told
and the flow's message, from the payload today's machines send and from the one machines compiled
before the message was passed on still send. The store, the directory, the events and the archive
are stood in for; the integration suite runs the whole of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from approvals.contract.tasks import FinishInput
from approvals.domain import Approval
from approvals.machine import finish as finish_machine
from approvals.unit_of_work.read_modify_write import Change
from approvals.wiring import Runtime


class Finished:
    """What one `finish` call recorded (the history event) and put (the business event)."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, dict[str, Any]]] = []
        self.put: list[tuple[str, dict[str, Any]]] = []

    def completed(self) -> tuple[dict[str, Any], dict[str, Any]]:
        (data,) = [d for t, d in self.recorded if t == "Approval Completed"]
        (body,) = [d for t, d in self.put if t == "Approval Completed"]
        return data, body


@pytest.fixture
def finished(monkeypatch: pytest.MonkeyPatch) -> Finished:
    seen = Finished()
    approval = Approval(id="a1", tenant="acme", flow="launch", flow_version=1, requester="ann", input={})

    def mutate(rt: Runtime, tenant: str, approval_id: str,
               change: Callable[[Approval, datetime], Change | None]) -> tuple[Approval, Change | None]:
        planned = change(approval, datetime(2026, 12, 1, tzinfo=UTC))
        assert planned is not None
        seen.recorded += [(e.type, dict(e.data)) for e in planned.events]
        seen.put += [(p.detail_type, dict(p.detail)) for p in planned.publish]  # written with the change
        return approval, planned

    def recipients(rt: Runtime, approval: Approval, specs: list[dict[str, Any]]) -> list[str]:
        return [user for spec in specs for user in spec.get("users", [])]

    monkeypatch.setattr(finish_machine, "mutate", mutate)
    monkeypatch.setattr(finish_machine, "resolve_recipients", recipients)
    monkeypatch.setattr(finish_machine, "archive_approval", lambda *args, **kwargs: "key")
    return seen


def run(notify: Any, outcome: str = "approved") -> FinishInput:
    return FinishInput.model_validate({
        "approval_id": "a1", "tenant": "acme", "flow": "launch", "flow_version": 1, "requester": "ann",
        "outcome": outcome, "steps": [], "cc": [{"users": ["cy"]}], "notify": notify, "state": {}})


RT: Any = object()  # never used: every adapter call is stood in for


def test_the_outcome_message_is_in_the_completed_events(finished: Finished) -> None:
    notify = {"approved": {"to": [{"users": ["kate"]}], "message": "Launched"},
              "rejected": {"to": [{"users": ["lee"]}], "message": "Not launched"}}
    finish_machine.finish(run(notify), RT)
    data, body = finished.completed()
    assert data == {"outcome": "approved", "cc": ["cy", "kate"], "error": None, "message": "Launched"}
    assert body["message"] == "Launched" and body["cc"] == ["cy", "kate"]


def test_no_message_when_the_outcome_gave_none(finished: Finished) -> None:
    finish_machine.finish(run({"approved": {"to": [{"users": ["kate"]}]}, "rejected": {"to": [], "message": "No"}}), RT)
    data, body = finished.completed()
    assert data == {"outcome": "approved", "cc": ["cy", "kate"], "error": None}
    assert "message" not in body


def test_an_outcome_without_notify_has_no_message(finished: Finished) -> None:
    finish_machine.finish(run({"approved": {"to": [{"users": ["kate"]}], "message": "Launched"}}, "withdrawn"), RT)
    data, body = finished.completed()
    assert data == {"outcome": "withdrawn", "cc": ["cy"], "error": None} and "message" not in body


@pytest.mark.parametrize(
    ("notify", "outcome", "cc"),
    [
        ({"approved": [{"users": ["kate"]}], "rejected": [{"users": ["lee"]}]}, "approved", ["cy", "kate"]),
        ({"approved": [{"users": ["kate"]}], "rejected": [{"users": ["lee"]}]}, "rejected", ["cy", "lee"]),
        ({"approved": [{"users": ["kate"]}]}, "withdrawn", ["cy"]),
        ([{"users": ["kate"]}], "rejected", ["cy", "kate"]),
        (None, "approved", ["cy"]),
    ],
)
def test_the_payload_of_machines_compiled_before_the_message_is_still_taken(
    finished: Finished, notify: Any, outcome: str, cc: list[str]
) -> None:
    finish_machine.finish(run(notify, outcome), RT)
    data, body = finished.completed()
    assert data == {"outcome": outcome, "cc": cc, "error": None}
    assert body["cc"] == cc and "message" not in body
