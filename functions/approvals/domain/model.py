"""The approval and its steps as plain data, shared by the rules, the store and the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ApprovalStatus(StrEnum):
    RUNNING = "running"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


class StepStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    ESCALATED = "escalated"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPENSATED = "compensated"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Outcome(StrEnum):
    """Where a step stands after its decisions; OPEN means it still waits for someone."""

    APPROVED = "approved"
    REJECTED = "rejected"
    OPEN = "open"


# Statuses after which a step never changes again (a later stage or a reopen is a new item).
SETTLED_STEP_STATUSES = frozenset(
    {
        StepStatus.APPROVED,
        StepStatus.REJECTED,
        StepStatus.SKIPPED,
        StepStatus.TIMED_OUT,
        StepStatus.ESCALATED,
        StepStatus.CANCELLED,
    }
)


@dataclass(frozen=True)
class DecisionRecord:
    """One recorded decision; `user` is the assignee it counts for, `actor` who pressed the button."""

    user: str
    decision: Decision
    at: str
    actor: str
    comment: str | None = None

    @property
    def acting_for(self) -> str | None:
        return self.user if self.actor != self.user else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.actor,
            "acting_for": self.acting_for,
            "decision": self.decision.value,
            "comment": self.comment,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRecord:
        actor = str(data["user"])
        acting_for = data.get("acting_for")
        return cls(
            user=str(acting_for) if acting_for else actor,
            decision=Decision(data["decision"]),
            at=str(data["at"]),
            actor=actor,
            comment=data.get("comment"),
        )


@dataclass
class Step:
    """One stage of a human step (stage 0 is the step itself, 1.. its escalations)."""

    step: str
    stage: int
    status: StepStatus
    mode: Any = "any"
    assignees: list[str] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    task_token: str | None = None
    opened_at: str | None = None
    deadline: str | None = None
    title: str | None = None
    settled_at: str | None = None
    # "pending" once the step is settled and its token not yet completed, then "sent";
    # a settled-but-not-sent step is what a sweeper has to finish.
    callback: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "stage": self.stage,
            "status": self.status.value,
            "mode": self.mode,
            "assignees": list(self.assignees),
            "decisions": [d.to_dict() for d in self.decisions],
            "opened_at": self.opened_at,
            "deadline": self.deadline,
        }


@dataclass
class Approval:
    id: str
    tenant: str
    flow: str
    flow_version: int
    requester: str
    input: dict[str, Any]
    status: ApprovalStatus = ApprovalStatus.RUNNING
    revision: int = 0
    created_at: str = ""
    updated_at: str = ""
    steps: list[Step] = field(default_factory=list)
    # Audit chain head: the sequence number and hash of the last event written.
    event_seq: int = 0
    last_hash: str = ""

    def current(self, step: str) -> Step | None:
        """The latest stage of `step`, or None if it never opened."""
        stages = [s for s in self.steps if s.step == step]
        return max(stages, key=lambda s: s.stage) if stages else None

    def approvers_so_far(self) -> set[str]:
        """Assignees who approved any stage already (for `auto_approve: repeat`)."""
        return {d.user for s in self.steps for d in s.decisions if d.decision is Decision.APPROVE}

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow": self.flow,
            "flow_version": self.flow_version,
            "status": self.status.value,
            "requester": self.requester,
            "input": self.input,
            "revision": self.revision,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "steps": [s.to_api() for s in sorted(self.steps, key=lambda s: (s.opened_at or "", s.stage))],
        }
