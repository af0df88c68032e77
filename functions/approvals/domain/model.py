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


# Statuses after which a stage never changes again (a later stage or a reopen is a new item).
SETTLED_STEP_STATUSES = frozenset(
    {
        StepStatus.APPROVED,
        StepStatus.REJECTED,
        StepStatus.SKIPPED,
        StepStatus.TIMED_OUT,
        StepStatus.ESCALATED,
        StepStatus.RETURNED,
        StepStatus.CANCELLED,
    }
)

SIGNER_POSITIONS = ("before", "after", "parallel")


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


@dataclass(frozen=True)
class AddedSigner:
    """A person added to a stage by a participant (加签): `before` decides first, `after` once the
    adder approved, `parallel` alongside; the adder's say counts only if they all approve."""

    user: str
    position: str
    by: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "position": self.position, "by": self.by, "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AddedSigner:
        return cls(str(data["user"]), str(data["position"]), str(data["by"]), str(data.get("at", "")))


@dataclass(frozen=True)
class Transfer:
    """`from_user` handed their place on the stage to `to_user` (转交); `actor` pressed the button."""

    from_user: str
    to_user: str
    actor: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.from_user, "to": self.to_user, "actor": self.actor, "at": self.at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transfer:
        return cls(str(data["from"]), str(data["to"]), str(data.get("actor", data["from"])), str(data.get("at", "")))


@dataclass
class Step:
    """One stage of a human step. Stages are numbered per step in opening order: 0 is the first,
    then escalations and re-openings after a return; `machine_stage` is the stage number the state
    machine knows (0 the step itself, 1.. its escalations)."""

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
    kind: str = "approval"  # or "resubmit" (the requester is asked to resubmit)
    machine_stage: int = 0
    # When the machine entered the Task that opened this stage ($$.State.EnteredTime): the same for
    # every retried invoke of that Task, so a retry (which brings a new token) finds its stage.
    entered_at: str | None = None
    allow: list[str] = field(default_factory=list)
    return_to: list[str] = field(default_factory=list)
    remind_seconds: list[int] = field(default_factory=list)
    reminders_sent: int = 0  # scheduled reminders (remind_seconds) emitted so far
    last_reminded_at: str | None = None  # the requester's last manual reminder
    # How the token is completed once settled: None for SendTaskSuccess, else the error name
    # (Approval.Rejected, Approval.Withdrawn, Approval.Returned.<step>).
    signal: str | None = None
    outcome: str | None = None  # what a timeout or an automatic settlement decided
    signers: list[AddedSigner] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    delegates: dict[str, str] = field(default_factory=dict)  # assignee -> who stands in, at opening
    # Bumped by every write of the stage item (decisions are counted on it without the approval's
    # revision moving): a write computed from an older read of the stage fails and is recomputed.
    ver: int = 0

    @property
    def participants(self) -> list[str]:
        """Everyone whose decision counts on this stage: the assignees, then added signers."""
        return [*self.assignees, *(s.user for s in self.signers if s.user not in self.assignees)]

    def to_api(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "stage": self.stage,
            "status": self.status.value,
            "mode": self.mode,
            "assignees": self.participants,
            "decisions": [d.to_dict() for d in self.decisions],
            "opened_at": self.opened_at,
            "deadline": self.deadline,
            "kind": self.kind,
            "outcome": self.outcome,
            "added_signers": [s.to_dict() for s in self.signers],
            "transfers": [t.to_dict() for t in self.transfers],
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
    completed_at: str = ""  # set once by Finish (the status may turn `withdrawn` before that)
    # Written before its execution is started: until that is confirmed the sweep makes sure it
    # starts (a function that died, or a StartExecution refused, between the two).
    start_pending: bool = False

    def current(self, step: str) -> Step | None:
        """The latest stage of `step`, or None if it never opened."""
        stages = [s for s in self.steps if s.step == step]
        return max(stages, key=lambda s: s.stage) if stages else None

    def approvers_so_far(self) -> set[str]:
        """Assignees who approved earlier in this run (for `auto_approve: repeat`). Approvals given
        before the latest return do not count: the returned work is looked at again."""
        cutoff = max((s.settled_at or "" for s in self.steps if s.status is StepStatus.RETURNED), default="")
        return {
            d.user for s in self.steps for d in s.decisions
            if d.decision is Decision.APPROVE and d.at > cutoff and s.kind == "approval"
        }

    def ran(self, step: str) -> bool:
        """Whether `step` opened as a human step in this approval (some stage of it was asked)."""
        return any(s.step == step and s.kind == "approval" and s.opened_at for s in self.steps)

    def open_stages(self) -> list[Step]:
        return [s for s in self.steps if s.status is StepStatus.OPEN]

    def participants_ever(self) -> set[str]:
        """Everyone who was ever asked or acted on any stage (for who may read the approval)."""
        people: set[str] = set()
        for s in self.steps:
            people.update(s.participants)
            people.update(t.from_user for t in s.transfers)
            people.update(d.actor for d in s.decisions)
        return people

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
