"""The input of every Task a compiled machine runs: what `dsl_compiler/emit.py` writes as each
Task's `Payload` and what the handler it calls parses (powertools `event_parser`). A compiler test
checks that every emitted Payload has exactly the fields of its model.

Unknown keys are refused: a machine and its handlers that disagree fail loudly at the boundary
rather than dropping a field. Machines already deployed send what these models accept (the
oldest shapes still accepted are noted where they differ).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .manifest import ApproverSpec, Mode
from .names import RUN_KEPT


class _Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    # Fields only machines compiled before still send: accepted, never sent now, not relied on.
    legacy: ClassVar[frozenset[str]] = frozenset()


class TaskContext(_Task):
    """What every Task is told of the run it belongs to."""

    approval_id: str
    tenant: str
    flow: str
    flow_version: int
    requester: str


class OpenStageSpec(_Task):
    """The stage to open, as compiled: its people, mode, deadline, reminders and what they may do."""

    title: str
    approvers: tuple[ApproverSpec, ...]
    mode: Mode = "any"
    timeout_seconds: int | None = None
    remind_seconds: tuple[int, ...] = ()
    allow: tuple[str, ...] = ()
    return_to: tuple[str, ...] = ()


class OpenStepInput(TaskContext):
    """OpenStepFunction (waitForTaskToken): open an approval stage, or the requester's resubmission."""

    legacy = frozenset({"input"})  # the handler reads the input from the table

    task_token: str
    input: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["approval", "resubmit"] = "approval"
    step: str
    stage: int = 0
    spec: OpenStageSpec
    settings: dict[str, Any] = Field(default_factory=dict)  # auto_approve, if_no_approvers
    # $$.State.EnteredTime: the same for every retried invoke of one Task entry (each brings a new
    # token), so a retry finds the stage it opened. Machines compiled before it was passed send none.
    entered_at: str | None = None


class StepTimedOutInput(TaskContext):
    """StepTimedOutFunction: the stage's deadline passed and `on_timeout` settles it."""

    step: str
    stage: int = 0
    outcome: Literal["approved", "rejected"]


class NotifyInput(TaskContext):
    """NotifyFunction: a `notify` step."""

    step: str
    to: tuple[ApproverSpec, ...] = ()
    message: str = ""
    entered_at: str | None = None  # $$.State.EnteredTime: the same on a retried invoke


class OutcomeNotify(_Task):
    to: tuple[ApproverSpec, ...] = ()
    message: str | None = None


# Per outcome; machines compiled before the message was passed on send `{"<outcome>": [specs]}`, or
# a bare list of specs for any outcome.
FinishNotify = dict[str, OutcomeNotify | tuple[ApproverSpec, ...]] | tuple[ApproverSpec, ...] | None


class FinishInput(TaskContext):
    """FinishFunction: the run's outcome, its leaf steps, who is told, and what the run kept of its
    actions (results, failures, those of parallel branches) and the error that ended it. The
    approval itself (its input included) is read from the table."""

    legacy = frozenset({"state"})  # the whole final state, input included

    outcome: Literal["approved", "rejected", "withdrawn", "failed"]
    steps: tuple[str, ...] = ()
    cc: tuple[ApproverSpec, ...] = ()
    notify: FinishNotify = None
    actions: dict[str, Any] = Field(default_factory=dict)
    failures: dict[str, Any] = Field(default_factory=dict)
    compensation_failures: dict[str, Any] = Field(default_factory=dict)
    parallel: dict[str, Any] = Field(default_factory=dict)
    error: Any = None
    state: dict[str, Any] = Field(default_factory=dict)

    def kept(self) -> dict[str, Any]:
        """What the run kept, in the shape of its state (or the whole state an older machine sent)."""
        return self.state or {kept: getattr(self, kept) for kept in RUN_KEPT}


class ActionInput(TaskContext):
    """An action's function: the step it runs for and its mapped `input` (docs/dsl.md, `action`)."""

    # An action is the flow author's own function: it may be handed more than the contract names.
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    step: str
    input: dict[str, Any] = Field(default_factory=dict)


class CompensationInput(TaskContext):
    """An action's `compensate` function: the step to undo and what the action returned."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    step: str
    result: Any = None


__all__ = [
    "ActionInput", "CompensationInput", "FinishInput", "FinishNotify", "NotifyInput", "OpenStageSpec", "OpenStepInput",
    "OutcomeNotify", "StepTimedOutInput", "TaskContext",
]
