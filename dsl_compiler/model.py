"""Stage 2a: the DSL v1 as pydantic models (structure, types, unknown keys).

Every model forbids unknown keys and is strict (no "3" for 3). Unions carry tags that start
with '=' so that an error's location maps back onto the YAML tree (see `Node.find`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)
from pydantic_core import PydanticCustomError

from .durations import parse_duration

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True)

APPROVER_KEYS = ("users", "role", "manager", "manager_chain", "department_head", "from_input", "requester")
STEP_TYPES = ("approval", "parallel", "branch", "action", "notify", "wait")


def _duration(value: str) -> str:
    if parse_duration(value) is None:
        raise PydanticCustomError(
            "duration", "invalid duration '{value}' (use 30s, 15m, 48h, 2d or 1w)", {"value": value}
        )
    return value


YEAR = 365 * 86400  # a Standard execution runs at most a year: a longer TimeoutSeconds or Wait never ends


def _within_a_year(value: str) -> str:
    seconds = parse_duration(_duration(value))
    if seconds is not None and seconds > YEAR:
        raise PydanticCustomError(
            "duration", "duration '{value}' is longer than a year (365d), the most an execution runs", {"value": value}
        )
    return value


def _run_duration_or_none(value: str) -> str:
    return value if value == "none" else _within_a_year(value)


Duration = Annotated[str, AfterValidator(_duration)]
# Durations the state machine waits for (TimeoutSeconds, Wait, Retry): within one execution.
RunDuration = Annotated[str, AfterValidator(_within_a_year)]
RunDurationOrNone = Annotated[str, AfterValidator(_run_duration_or_none)]
FlowName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]
UserId = Annotated[str, StringConstraints(min_length=1)]
Condition = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = _CONFIG


# --- approver specs -------------------------------------------------------------------------


class UsersSpec(_Model):
    users: Annotated[list[UserId], Field(min_length=1)]


class RoleSpec(_Model):
    role: Annotated[str, StringConstraints(min_length=1)]
    scope: Literal["department"] | None = None


class ManagerSpec(_Model):
    manager: Annotated[int, Field(ge=1, le=10)]


class UntilRole(_Model):
    until_role: Annotated[str, StringConstraints(min_length=1)]


class ManagerChainSpec(_Model):
    manager_chain: Annotated[int, Field(ge=1, le=10)] | UntilRole


class DepartmentHeadSpec(_Model):
    department_head: Literal[True]


class FromInputSpec(_Model):
    from_input: Annotated[str, StringConstraints(min_length=1)]


class RequesterSpec(_Model):
    requester: Literal[True]


def _approver_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [k for k in APPROVER_KEYS if k in value]
        if len(present) == 1:
            return "=" + present[0]
    return None


ApproverSpec = Annotated[
    Annotated[UsersSpec, Tag("=users")]
    | Annotated[RoleSpec, Tag("=role")]
    | Annotated[ManagerSpec, Tag("=manager")]
    | Annotated[ManagerChainSpec, Tag("=manager_chain")]
    | Annotated[DepartmentHeadSpec, Tag("=department_head")]
    | Annotated[FromInputSpec, Tag("=from_input")]
    | Annotated[RequesterSpec, Tag("=requester")],
    Discriminator(
        _approver_kind,
        custom_error_type="approver_spec",
        custom_error_message="an approver spec needs exactly one of " + ", ".join(APPROVER_KEYS),
    ),
]


def _approver_list(value: Any) -> Any:
    # `approvers: {role: x}` and `approvers: [{role: x}, ...]` are both allowed.
    return [value] if isinstance(value, dict) else value


# --- input fields ---------------------------------------------------------------------------

FieldType = Literal["string", "number", "integer", "boolean", "array", "object"]


class ItemsSpec(_Model):
    type: FieldType


class InputFieldSpec(_Model):
    type: FieldType
    required: bool = False
    default: Any = None
    enum: Annotated[list[Any], Field(min_length=1)] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: Annotated[int, Field(ge=0)] | None = None
    items: ItemsSpec | None = None


# --- modes and timeouts ---------------------------------------------------------------------


class QuorumMode(_Model):
    quorum: Annotated[int, Field(ge=1)]


class PercentMode(_Model):
    percent: Annotated[int, Field(ge=1, le=100)]


def _mode_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "=name"
    if isinstance(value, dict) and len(value) == 1:
        return {"quorum": "=quorum", "percent": "=percent"}.get(next(iter(value)))
    return None


Mode = Annotated[
    Annotated[Literal["all", "any", "sequential"], Tag("=name")]
    | Annotated[QuorumMode, Tag("=quorum")]
    | Annotated[PercentMode, Tag("=percent")],
    Discriminator(
        _mode_kind,
        custom_error_type="mode",
        custom_error_message="mode must be all, any, sequential, {quorum: N} or {percent: P}",
    ),
]


class Escalation(_Model):
    escalate_to: ApproverSpec
    timeout: RunDurationOrNone | None = None
    on_timeout: OnTimeout | None = None


def _on_timeout_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "=name"
    if isinstance(value, dict):
        return "=escalate"
    return None


OnTimeout = Annotated[
    Annotated[Literal["approve", "reject"], Tag("=name")] | Annotated[Escalation, Tag("=escalate")],
    Discriminator(
        _on_timeout_kind,
        custom_error_type="on_timeout",
        custom_error_message="on_timeout must be approve, reject or {escalate_to: approver spec}",
    ),
]

Allow = Literal["add_signer", "transfer", "return"]


# --- steps ----------------------------------------------------------------------------------


class _Step(_Model):
    id: StepId
    title: str | None = None
    when: Condition | None = None


class ApprovalStep(_Step):
    type: Literal["approval"]
    approvers: Annotated[list[ApproverSpec], Field(min_length=1), BeforeValidator(_approver_list)]
    mode: Mode | None = None
    timeout: RunDurationOrNone | None = None
    on_timeout: OnTimeout | None = None
    remind: list[RunDuration] | None = None
    allow: list[Allow] | None = None


class ParallelStep(_Step):
    type: Literal["parallel"]
    branches: Annotated[list[Annotated[list[Step], Field(min_length=1)]], Field(min_length=2)]


class Case(_Model):
    when: Condition
    steps: list[Step]


class BranchStep(_Step):
    type: Literal["branch"]
    cases: Annotated[list[Case], Field(min_length=1)]
    default: list[Step] | None = None


class RetrySpec(_Model):
    attempts: Annotated[int, Field(ge=1, le=20)]
    interval: RunDuration = "1s"
    backoff: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0


FunctionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]


class OutcomeAction(_Model):
    """A function call: an `action` step, or an `action` run at an outcome (`on_approved`...)."""

    function: FunctionName
    input: dict[str, Any] | None = None
    retry: RetrySpec | None = None
    timeout: RunDuration | None = None


class ActionStep(_Step, OutcomeAction):
    type: Literal["action"]
    compensate: FunctionName | None = None


class NotifyStep(_Step):
    type: Literal["notify"]
    to: Annotated[list[ApproverSpec], Field(min_length=1), BeforeValidator(_approver_list)]
    message: str | None = None


class WaitStep(_Step):
    type: Literal["wait"]
    duration: RunDuration | None = None
    until: str | None = None


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("type") in STEP_TYPES:
        return "=" + str(value["type"])
    return None


Step = Annotated[
    Annotated[ApprovalStep, Tag("=approval")]
    | Annotated[ParallelStep, Tag("=parallel")]
    | Annotated[BranchStep, Tag("=branch")]
    | Annotated[ActionStep, Tag("=action")]
    | Annotated[NotifyStep, Tag("=notify")]
    | Annotated[WaitStep, Tag("=wait")],
    Discriminator(
        _step_kind,
        custom_error_type="step_type",
        custom_error_message="a step needs 'type': one of " + ", ".join(STEP_TYPES),
    ),
]


# --- outcomes, settings, the flow -----------------------------------------------------------


class OutcomeNotify(_Model):
    notify: Annotated[list[ApproverSpec], Field(min_length=1), BeforeValidator(_approver_list)]
    message: str | None = None


class OutcomeRun(_Model):
    action: OutcomeAction


def _outcome_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "notify" in value:
            return "=notify"
        if "action" in value:
            return "=action"
    return None


OutcomeItem = Annotated[
    Annotated[OutcomeNotify, Tag("=notify")] | Annotated[OutcomeRun, Tag("=action")],
    Discriminator(
        _outcome_kind,
        custom_error_type="outcome_item",
        custom_error_message="each item needs 'notify: [approver specs]' or 'action: {function: ...}'",
    ),
]


class AutoApprove(_Model):
    requester: bool = False
    repeat: bool = False


class Fallback(_Model):
    fallback: ApproverSpec


class Settings(_Model):
    auto_approve: AutoApprove | None = None
    if_no_approvers: Literal["approve", "reject"] | Fallback | None = None
    retain_hot: Duration | None = None


class FlowSpec(_Model):
    flow: FlowName
    version: Annotated[int, Field(ge=1)]
    title: str | None = None
    description: str | None = None
    input: dict[str, InputFieldSpec] | None = None
    steps: Annotated[list[Step], Field(min_length=1)]
    cc: list[ApproverSpec] | None = None
    on_approved: list[OutcomeItem] | None = None
    on_rejected: list[OutcomeItem] | None = None
    on_withdrawn: list[OutcomeItem] | None = None
    settings: Settings | None = None


for _model in (Escalation, ParallelStep, Case, BranchStep, FlowSpec):
    _model.model_rebuild()
