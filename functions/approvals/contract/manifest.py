"""The manifest: the compiled flow, as `dsl_compiler` writes it next to each machine and as the
functions read it. It carries everything the functions need of a flow (its steps with their
approvers, modes, timeouts, escalations, `allow`, result keys and compensations, its conditions
as trees, its input schema, its outcomes), so that no function reads the flow's YAML source.

`read_manifest` is the one reader. Format 1 (manifests written before the compiled steps were
added) is still read: its header (flow, version, title, machine, input schema, retention) is all
the functions can use of it; `dsl_compiler upgrade` rewrites such a manifest to the current format
from the source it carries, with its definition unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .conditions import REQUESTER, Condition, fields_read
from .names import machine_name, result_key

MANIFEST_FORMAT = 2
# At most this much of an input (compact JSON) rides in the execution's state, whose limit is 256 KiB:
# the rest is for what the run keeps (action results, errors, parallels) and the run's context.
CARRIED_INPUT_MAX_BYTES = 64 * 1024


def compact_size(value: Any) -> int:
    """Bytes of `value` as compact JSON in UTF-8, as Step Functions counts a state's data."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())

DEFAULT_RETAIN_SECONDS = 30 * 86400
Json = Any
ApproverSpec = dict[str, Json]
Mode = str | dict[str, int]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class StageSpec(_Spec):
    """One human Task of an approval step: the step itself (index 0) or one of its escalations."""

    index: int
    approvers: tuple[ApproverSpec, ...]
    mode: Mode
    timeout_seconds: int | None = None
    on_timeout: Literal["approve", "reject"] | StageSpec | None = None


class CallSpec(_Spec):
    """A function call with its retry policy (an action step, or an action run at an outcome)."""

    function: str
    input: dict[str, Json] | None = None
    attempts: int = 1
    interval_seconds: int = 1
    backoff: float = 2.0
    timeout_seconds: int | None = None


class _StepBase(_Spec):
    id: str
    title: str | None = None
    when: Condition | None = None


class ApprovalStepSpec(_StepBase):
    kind: Literal["approval"]
    stage: StageSpec
    remind_seconds: tuple[int, ...] = ()
    allow: tuple[str, ...] = ()
    return_to: tuple[str, ...] = ()


class ActionStepSpec(_StepBase, CallSpec):
    kind: Literal["action"]
    result_key: str
    compensate: str | None = None


class NotifyStepSpec(_StepBase):
    kind: Literal["notify"]
    to: tuple[ApproverSpec, ...] = ()
    message: str | None = None


class WaitStepSpec(_StepBase):
    kind: Literal["wait"]
    seconds: int | None = None
    until_field: str | None = None


class CaseSpec(_Spec):
    when: Condition
    steps: tuple[StepSpec, ...] = ()


class BranchStepSpec(_StepBase):
    kind: Literal["branch"]
    cases: tuple[CaseSpec, ...] = ()
    default: tuple[StepSpec, ...] = ()


class ParallelStepSpec(_StepBase):
    kind: Literal["parallel"]
    branches: tuple[tuple[StepSpec, ...], ...] = ()


StepSpec = Annotated[
    ApprovalStepSpec | ActionStepSpec | NotifyStepSpec | WaitStepSpec | BranchStepSpec | ParallelStepSpec,
    Field(discriminator="kind"),
]


class OutcomeSpec(_Spec):
    """What runs at one outcome: who is told (and the message), and the actions."""

    notify: tuple[ApproverSpec, ...] = ()
    message: str | None = None
    actions: tuple[CallSpec, ...] = ()


def nested(step: StepSpec) -> list[tuple[StepSpec, ...]]:
    """The step lists inside a branch or parallel step, in document order."""
    if isinstance(step, BranchStepSpec):
        return [*(case.steps for case in step.cases), step.default]
    if isinstance(step, ParallelStepSpec):
        return list(step.branches)
    return []


def walk(steps: tuple[StepSpec, ...]) -> Iterator[StepSpec]:
    """Every step, nested ones included, in document order."""
    for step in steps:
        yield step
        for inner in nested(step):
            yield from walk(inner)


class FlowManifestSpec(_Spec):
    """A compiled flow version (its machine is `state_machine`)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)  # a newer compiler may add keys

    format: int = 1
    flow: str
    version: int
    title: str | None = None
    state_machine: str = ""
    definition: str = ""
    functions: tuple[str, ...] = ()
    substitutions: dict[str, Json] = Field(default_factory=dict)
    permissions: tuple[dict[str, str], ...] = ()
    events: tuple[str, ...] = ()
    input_schema: dict[str, Json] = Field(default_factory=dict)
    steps: tuple[StepSpec, ...] = ()
    cc: tuple[ApproverSpec, ...] = ()
    outcomes: dict[str, OutcomeSpec] = Field(default_factory=dict)
    settings: dict[str, Json] = Field(default_factory=dict)
    retain_hot_seconds: int = DEFAULT_RETAIN_SECONDS
    source: str = ""  # the flow file it was compiled from, for people and for `dsl_compiler upgrade`

    @property
    def name(self) -> str:
        return self.state_machine or machine_name(self.flow, self.version)

    @property
    def display_title(self) -> str:
        return self.title or self.flow

    @cached_property
    def by_id(self) -> dict[str, StepSpec]:
        return {step.id: step for step in walk(self.steps)}

    @cached_property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(self.by_id)

    @cached_property
    def followers(self) -> dict[str, tuple[str, ...]]:
        """Per step, the ids after it in its own list (with their nested steps): they run only after it."""
        found: dict[str, tuple[str, ...]] = {}

        def visit(steps: tuple[StepSpec, ...]) -> None:
            for index, step in enumerate(steps):
                found[step.id] = tuple(s.id for s in walk(steps[index + 1:]))
                for inner in nested(step):
                    visit(inner)

        visit(self.steps)
        return found

    @cached_property
    def from_input_fields(self) -> tuple[str, ...]:
        """Input fields that name approvers (`{from_input: field}` anywhere in the flow)."""
        specs: list[ApproverSpec] = []
        for step in walk(self.steps):
            if isinstance(step, ApprovalStepSpec):
                stage: StageSpec | None = step.stage
                while stage is not None:
                    specs.extend(stage.approvers)
                    stage = stage.on_timeout if isinstance(stage.on_timeout, StageSpec) else None
            elif isinstance(step, NotifyStepSpec):
                specs.extend(step.to)
        specs.extend(self.cc)
        for outcome in self.outcomes.values():
            specs.extend(outcome.notify)
        return tuple(dict.fromkeys(s["from_input"] for s in specs if isinstance(s.get("from_input"), str)))

    @cached_property
    def carried_fields(self) -> tuple[str, ...] | None:
        """The input fields the state machine carries: those its Choice rules, waits and action
        inputs read (docs/state-machine-contract.md, "Execution"); None for all of them (an action
        that takes the whole input, or a format-1 manifest, whose steps are unknown). Everything
        else of the input stays in the table: a state holds at most 256 KiB."""
        if self.format < 2:
            return None
        found: dict[str, None] = {}
        conditions: list[Condition] = []
        calls: list[CallSpec] = [call for outcome in self.outcomes.values() for call in outcome.actions]
        for step in walk(self.steps):
            if step.when is not None:
                conditions.append(step.when)
            if isinstance(step, BranchStepSpec):
                conditions.extend(case.when for case in step.cases)
            elif isinstance(step, ActionStepSpec):
                calls.append(step)
            elif isinstance(step, WaitStepSpec) and step.until_field:
                found[step.until_field.split(".")[0]] = None
        for cond in conditions:
            for path in fields_read(cond):
                if path and path[0] != REQUESTER:
                    found[path[0]] = None
        for call in calls:
            if call.input is None:
                return None
            for value in call.input.values():
                if isinstance(value, str) and value.startswith("$."):
                    found[value[2:].split(".")[0]] = None
        return tuple(found)

    def carried_input(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """What of an approval's input its execution carries (`carried_fields`)."""
        fields = self.carried_fields
        return dict(data) if fields is None else {k: data[k] for k in fields if k in data}

    def compensation_of(self, step_id: str) -> str | None:
        step = self.by_id.get(step_id)
        return step.compensate if isinstance(step, ActionStepSpec) else None


class ManifestError(ValueError):
    """A manifest the functions cannot read (a deployment packaging error, not a client's)."""


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _format1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A format-1 manifest's header in the current shape: its `steps` were only ids, its
    `retain_hot` a duration text."""
    header = {k: v for k, v in data.items() if k not in ("steps", "retain_hot")}
    retain = _DURATION.match(str(data.get("retain_hot") or ""))
    if retain:
        header["retain_hot_seconds"] = int(retain.group(1)) * _UNIT_SECONDS[retain.group(2)]
    return header


def read_manifest(data: Mapping[str, Any]) -> FlowManifestSpec:
    """The manifest `data` (parsed JSON) as a FlowManifestSpec; ManifestError if it is not one."""
    version = data.get("format", 1)
    if version == 1:
        data = _format1(data)
    elif version != MANIFEST_FORMAT:
        raise ManifestError(f"manifest format {version!r} is not known (this code reads 1 and {MANIFEST_FORMAT})")
    try:
        return FlowManifestSpec.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"not a flow manifest: {exc.errors(include_url=False)[:3]}") from exc


__all__ = [
    "MANIFEST_FORMAT", "ActionStepSpec", "ApprovalStepSpec", "BranchStepSpec", "CallSpec", "CaseSpec",
    "FlowManifestSpec", "ManifestError", "NotifyStepSpec", "OutcomeSpec", "ParallelStepSpec", "StageSpec",
    "StepSpec", "WaitStepSpec", "nested", "read_manifest", "result_key", "walk",
]
