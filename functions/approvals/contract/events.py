"""The business events the product puts on its bus: one model per detail-type, the `detail` an
integrator receives. Every event is checked against its model before it is published, and the
JSON Schemas in docs/events/ are generated from these models (`python -m approvals.contract.events
docs/events`; a test keeps them current)."""

from __future__ import annotations

import argparse
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EVENT_SOURCE = "approvals"


class EventType(StrEnum):
    APPROVAL_STARTED = "Approval Started"
    STEP_OPENED = "Step Opened"
    STEP_ESCALATED = "Step Escalated"
    STEP_TIMED_OUT = "Step Timed Out"
    DECISION_RECORDED = "Decision Recorded"
    SIGNERS_ADDED = "Signers Added"
    STEP_TRANSFERRED = "Step Transferred"
    STEP_RETURNED = "Step Returned"
    RESUBMITTED = "Resubmitted"
    REMINDER_DUE = "Reminder Due"
    COMMENT_ADDED = "Comment Added"
    NOTIFICATION_REQUESTED = "Notification Requested"
    ACTION_FAILED = "Action Failed"
    APPROVAL_WITHDRAWN = "Approval Withdrawn"
    APPROVAL_COMPLETED = "Approval Completed"


class EventDetail(BaseModel):
    """What every business event carries; `step` is null for events about the whole approval, and
    `event_id` names the event (EventBridge delivers at least once)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tenant: str
    approval_id: str
    flow: str
    flow_version: int
    step: str | None = None
    event_id: str = Field(description="the same on every delivery of this event: consumers drop repeats by it")


class ApprovalStarted(EventDetail):
    requester: str


class StepOpened(EventDetail):
    stage: int
    machine_stage: int
    assignees: list[str]
    mode: Any = Field(description="`all`, `any`, `sequential`, `{quorum: N}` or `{percent: P}`")
    deadline: str | None = None
    kind: Literal["approval", "resubmit"] = "approval"
    delegates: dict[str, str] = Field(default_factory=dict, description="assignee to the stand-in acting for them")
    not_in_directory: list[str] | None = Field(default=None, description="approvers the directory does not know")


class StepEscalated(EventDetail):
    stage: int
    to_stage: int


class StepTimedOut(EventDetail):
    stage: int
    outcome: Literal["approved", "rejected"]


class DecisionRecorded(EventDetail):
    user: str
    acting_for: str | None = None
    decision: Literal["approve", "reject"]
    settled: Literal["open", "approved", "rejected"]


class SignersAdded(EventDetail):
    to: list[str]
    position: str
    by: str


class StepTransferred(EventDetail):
    to: list[str]
    by: str


class StepReturned(EventDetail):
    to_step: str
    by: str


class Resubmitted(EventDetail):
    requester: str


class ReminderDue(EventDetail):
    stage: int
    to: list[str] = Field(description="who is waited for")
    kind: Literal["manual", "scheduled"]
    requester: str


class CommentAdded(EventDetail):
    user: str


class NotificationRequested(EventDetail):
    to: list[str]
    message: str | None = None
    requester: str


class ActionFailed(EventDetail):
    error: str | None = None
    cause: str = Field(default="", max_length=500)
    requester: str
    to: list[str]
    compensation: str | bool | None = Field(default=None, description="failed compensations only")


class ApprovalWithdrawn(EventDetail):
    steps: list[str] = Field(description="the open steps cancelled")
    to: list[str] = Field(description="who they waited for")
    requester: str


class ApprovalCompleted(EventDetail):
    outcome: Literal["approved", "rejected", "withdrawn", "failed"]
    cc: list[str]
    requester: str
    message: str | None = Field(default=None, description="when the flow's on_<outcome> notify has one")
    error: Any = Field(default=None, description="only when the execution never started")


EVENT_MODELS: dict[EventType, type[EventDetail]] = {
    EventType.APPROVAL_STARTED: ApprovalStarted,
    EventType.STEP_OPENED: StepOpened,
    EventType.STEP_ESCALATED: StepEscalated,
    EventType.STEP_TIMED_OUT: StepTimedOut,
    EventType.DECISION_RECORDED: DecisionRecorded,
    EventType.SIGNERS_ADDED: SignersAdded,
    EventType.STEP_TRANSFERRED: StepTransferred,
    EventType.STEP_RETURNED: StepReturned,
    EventType.RESUBMITTED: Resubmitted,
    EventType.REMINDER_DUE: ReminderDue,
    EventType.COMMENT_ADDED: CommentAdded,
    EventType.NOTIFICATION_REQUESTED: NotificationRequested,
    EventType.ACTION_FAILED: ActionFailed,
    EventType.APPROVAL_WITHDRAWN: ApprovalWithdrawn,
    EventType.APPROVAL_COMPLETED: ApprovalCompleted,
}


def checked_detail(detail_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` checked against its event's model (ValueError if it does not fit), as published."""
    model = EVENT_MODELS[EventType(detail_type)]
    return model.model_validate(body).model_dump(mode="json", exclude_unset=True)


def schema_file(event: EventType) -> str:
    return event.value.lower().replace(" ", "-") + ".schema.json"


def schemas() -> dict[str, str]:
    """File name to JSON Schema text, one per business event."""
    found = {}
    for event, model in EVENT_MODELS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": f"{event.value} (detail)", "description": f"detail-type `{event.value}`, source "
                  f"`{EVENT_SOURCE}`. {(model.__doc__ or EventDetail.__doc__ or '').strip()}",
                  **{k: v for k, v in model.model_json_schema().items() if k not in ("title", "description")}}
        found[schema_file(event)] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m approvals.contract.events",
                                     description="Write the JSON Schema of every business event's detail.")
    parser.add_argument("out", type=Path, help="folder to write <event>.schema.json into (docs/events)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = [name for name, text in schemas().items()
             if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in stale:
            print(f"{args.out / name}: out of date (run `python -m approvals.contract.events {args.out}`)",
                  file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in schemas().items():
        (args.out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
