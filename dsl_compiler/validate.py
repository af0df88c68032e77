"""Stage 2b: validate a loaded flow: structure (pydantic), then the rules between keys.

Every problem is collected with its file, line and column; nothing stops at the first one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from approvals.contract.names import machine_name, result_key

from . import conditions, paths
from .durations import parse_duration
from .errors import ErrorSink, Location
from .loader import Node, Path
from .model import (
    STEP_TYPES,
    ActionStep,
    ApprovalStep,
    ApproverSpec,
    BranchStep,
    Escalation,
    FlowSpec,
    FromInputSpec,
    InputFieldSpec,
    ManagerChainSpec,
    OutcomeRun,
    ParallelStep,
    QuorumMode,
    Step,
    UsersSpec,
    WaitStep,
)

_STEP: TypeAdapter[Any] = TypeAdapter(Step)
MAX_MACHINE_NAME = 80  # AWS's limit on a state machine's name


@dataclass(frozen=True)
class ValidatedFlow:
    """A flow that passed every check, with its parsed conditions keyed by their YAML path."""

    spec: FlowSpec
    file: str
    conditions: Mapping[Path, conditions.Expr] = field(default_factory=dict)
    steps_at: Location | None = None  # where a problem of the compiled machine as a whole is reported

    @property
    def field_types(self) -> dict[str, str]:
        return {name: f.type for name, f in (self.spec.input or {}).items()}


def validate(root: Node, file: str, sink: ErrorSink) -> ValidatedFlow | None:
    data = root.plain()
    try:
        spec = FlowSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            _report_pydantic(root, err, sink)
        # Still check the parts that are well formed, so that one run reports every problem.
        _Checker(root, sink, *_valid_parts(data)).run()
        return None
    checker = _Checker(root, sink, dict(spec.input or {}), list(spec.steps), spec)
    checker.run()
    if sink:
        return None
    return ValidatedFlow(spec, file, checker.parsed, root.key_locs.get("steps", root.loc))


def _valid_parts(data: dict[str, Any]) -> tuple[dict[str, InputFieldSpec], list[Any | None]]:
    fields: dict[str, InputFieldSpec] = {}
    raw_fields = data.get("input")
    if isinstance(raw_fields, dict):
        for name, raw in raw_fields.items():
            try:
                fields[name] = InputFieldSpec.model_validate(raw)
            except ValidationError:
                pass
    steps: list[Any | None] = []
    raw_steps = data.get("steps")
    for raw in raw_steps if isinstance(raw_steps, list) else []:
        try:
            steps.append(_STEP.validate_python(raw))
        except ValidationError:
            steps.append(None)  # keeps the indexes, hence the paths, of the others
    return fields, steps


def _report_pydantic(root: Node, err: Any, sink: ErrorSink) -> None:
    path: Path = tuple(err["loc"])
    kind = err["type"]
    keys = [seg for seg in path if isinstance(seg, str) and not seg.startswith("=")]
    name = keys[-1] if keys else "flow"
    if kind == "extra_forbidden":
        parent, _ = root.find(path[:-1])
        loc = parent.key_locs.get(str(path[-1]), parent.loc)
        sink.add(loc, f"unknown key '{path[-1]}'")
        return
    node, _ = root.find(path)
    if node.invalid:  # the loader said what is wrong with it
        return
    if kind == "missing":
        sink.add(node.loc, f"missing required key '{path[-1]}'")
        return
    if kind in ("approver_spec", "step_type", "mode", "on_timeout", "outcome_item"):
        if kind == "step_type" and isinstance(node.value, dict) and "type" in node.value:
            node = node.value["type"]
            sink.add(node.loc, f"unknown step type '{node.value}' (expected one of {', '.join(STEP_TYPES)})")
            return
        sink.add(node.loc, err["msg"])
        return
    message = err["msg"]
    message = message[:1].lower() + message[1:]
    if kind == "string_pattern_mismatch":
        noun = {"flow": "flow name", "id": "step id", "function": "function name", "compensate": "function name"}
        message = f"'{err['input']}' is not a valid {noun.get(name, name)} (pattern {err['ctx']['pattern']})"
        sink.add(node.loc, message)
        return
    sink.add(node.loc, f"'{name}': {message}")


class _Checker:
    """The rules pydantic cannot see: references between keys, conditions, ids, defaults."""

    def __init__(
        self,
        root: Node,
        sink: ErrorSink,
        fields: dict[str, InputFieldSpec],
        steps: list[Any | None],
        spec: FlowSpec | None = None,
    ) -> None:
        self.root = root
        self.sink = sink
        self.spec = spec
        self.steps = steps
        self.fields = fields
        self.types = {name: f.type for name, f in self.fields.items()}
        self.parsed: dict[Path, conditions.Expr] = {}
        self.seen_ids: dict[str, Location] = {}
        self.result_keys: dict[str, str] = {}

    def loc(self, path: Path) -> Location:
        return self.root.find(path)[0].loc

    def error(self, path: Path, message: str) -> None:
        node = self.root.find(path)[0]
        if not node.invalid:
            self.sink.add(node.loc, message)

    def run(self) -> None:
        for name, spec in self.fields.items():
            self.check_field(("input", name), name, spec)
        for path, step in walk_steps(self.steps, ("steps",)):
            self.check_step(path, step)
        if self.spec is None:
            return
        machine = machine_name(self.spec.flow, self.spec.version)
        if len(machine) > MAX_MACHINE_NAME:
            self.error(("version",), f"state machine name '{machine[:40]}...' is longer than {MAX_MACHINE_NAME} "
                       "characters, AWS's limit: shorten the flow name or lower the version")
        for key in ("on_approved", "on_rejected", "on_withdrawn"):
            for i, item in enumerate(getattr(self.spec, key) or []):
                if isinstance(item, OutcomeRun):
                    self.check_action_input((key, i, "action"), item.action.input)
        for i, approver in enumerate(self.spec.cc or []):
            self.check_approver(("cc", i), approver)
        settings = self.spec.settings
        if settings and settings.if_no_approvers is not None and not isinstance(settings.if_no_approvers, str):
            self.check_approver(("settings", "if_no_approvers", "fallback"), settings.if_no_approvers.fallback)

    # --- input ------------------------------------------------------------------------------

    def check_field(self, path: Path, name: str, spec: InputFieldSpec) -> None:
        if name == "requester":
            self.error(path, "'requester' is reserved: it is always the caller, never part of the input")
        given = spec.model_fields_set
        if "default" in given:
            if spec.required:
                self.error((*path, "default"), f"field '{name}' is required, so its default would never be used")
            elif not _fits(spec.type, spec.default):
                self.error((*path, "default"), f"default of field '{name}' is not a {spec.type}")
        for i, value in enumerate(spec.enum or []):
            if not _fits(spec.type, value):
                self.error((*path, "enum", i), f"enum value {value!r} of field '{name}' is not a {spec.type}")
        for key in ("minimum", "maximum"):
            if key in given and spec.type not in ("number", "integer"):
                self.error((*path, key), f"'{key}' applies to number and integer fields, not {spec.type}")
        if "max_length" in given and spec.type not in ("string", "array"):
            self.error((*path, "max_length"), f"'max_length' applies to string and array fields, not {spec.type}")
        if "items" in given and spec.type != "array":
            self.error((*path, "items"), f"'items' applies to array fields, not {spec.type}")
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            self.error((*path, "maximum"), f"maximum of field '{name}' is below its minimum")

    # --- steps ------------------------------------------------------------------------------

    def check_step(self, path: Path, step: Any) -> None:
        first = self.seen_ids.get(step.id)
        if first is not None:
            self.error((*path, "id"), f"duplicate step id '{step.id}' (first used at line {first.line})")
        else:
            self.seen_ids[step.id] = self.loc((*path, "id"))
        if step.when is not None:
            self.check_condition((*path, "when"), step.when)
        if isinstance(step, ApprovalStep):
            self.check_approval(path, step)
        elif isinstance(step, BranchStep):
            for i, case in enumerate(step.cases):
                self.check_condition((*path, "cases", i, "when"), case.when)
        elif isinstance(step, ActionStep):
            key = result_key(step.id)
            other = self.result_keys.get(key)
            if other is not None and other != step.id:
                self.error((*path, "id"), f"action ids '{other}' and '{step.id}' differ only by '-' and '_'")
            self.result_keys[key] = step.id
            self.check_action_input(path, step.input)
            if step.compensate is not None and "branches" in path:
                # A branch's results exist only once the whole Parallel succeeds: were another
                # branch to reject, this action would have run and nothing could undo it.
                self.error((*path, "compensate"), f"action '{step.id}' has a compensation, so it cannot run in a "
                           "parallel branch (another branch rejecting would drop its result); put it after the "
                           "parallel")
        elif isinstance(step, WaitStep):
            self.check_wait(path, step)
        elif hasattr(step, "to"):
            for i, spec in enumerate(step.to):
                self.check_approver((*path, "to", i), spec)

    def check_approval(self, path: Path, step: ApprovalStep) -> None:
        for i, spec in enumerate(step.approvers):
            self.check_approver((*path, "approvers", i), spec)
        chain = any(isinstance(s, ManagerChainSpec) for s in step.approvers)
        if chain and step.mode is not None and step.mode != "sequential":
            self.error((*path, "mode"), "a manager_chain is approved level by level: its mode can only be sequential")
        if chain and len(step.approvers) > 1:
            self.error((*path, "approvers"), "a manager_chain cannot be combined with other approvers in one step")
        if isinstance(step.mode, QuorumMode):
            fixed = fixed_user_count(step.approvers)
            if fixed is not None and step.mode.quorum > fixed:
                self.error((*path, "mode"), f"quorum {step.mode.quorum} is more than the {fixed} approvers listed")
        self.check_timeout(path, step.timeout, step.on_timeout, what=f"step '{step.id}'")
        timeout = parse_duration(step.timeout) if step.timeout else None
        for i, offset in enumerate(step.remind or []):
            seconds = parse_duration(offset) or 0
            if timeout is not None and seconds >= timeout:
                self.error(
                    (*path, "remind", i), f"reminder at {offset} comes after the step's timeout ({step.timeout})"
                )

    def check_timeout(self, path: Path, timeout: str | None, on_timeout: Any, what: str) -> None:
        # An escalation without a timeout of its own runs for the step's (ir.py), so it may still
        # say what happens when that runs out.
        inherited = what == "escalation" and timeout is None
        if timeout is None and not inherited:
            if on_timeout is not None:
                self.error((*path, "on_timeout"), "on_timeout needs a timeout")
            elif what.startswith("step"):
                self.error(path, f"{what} has no timeout: give a duration, or write 'timeout: none' to wait forever")
            return
        if timeout == "none" and on_timeout is not None:
            self.error((*path, "on_timeout"), "on_timeout cannot follow 'timeout: none'")
        if timeout != "none" and on_timeout is None and what.startswith("step"):
            self.error((*path, "timeout"), f"{what} has a timeout but no on_timeout (approve, reject or escalate_to)")
        if isinstance(on_timeout, Escalation):
            self.check_approver((*path, "on_timeout", "escalate_to"), on_timeout.escalate_to)
            if on_timeout.timeout is not None or on_timeout.on_timeout is not None:
                self.check_timeout((*path, "on_timeout"), on_timeout.timeout, on_timeout.on_timeout, "escalation")

    def check_approver(self, path: Path, spec: ApproverSpec) -> None:
        if isinstance(spec, FromInputSpec):
            declared = self.fields.get(spec.from_input)
            if declared is None:
                self.error((*path, "from_input"), f"from_input names '{spec.from_input}', which input does not declare")
            elif declared.type not in ("string", "array"):
                self.error((*path, "from_input"), f"from_input field '{spec.from_input}' must be a string or an array")
        if isinstance(spec, UsersSpec) and len(set(spec.users)) != len(spec.users):
            self.error((*path, "users"), "a user is listed twice")

    def check_action_input(self, path: Path, mapping: dict[str, Any] | None) -> None:
        self.check_payload_keys((*path, "input"), mapping)
        for key, value in (mapping or {}).items():
            if isinstance(value, str) and value.startswith("$"):
                problem = self.input_path_problem(value)
                if problem is not None:
                    self.error((*path, "input", key), problem)

    def check_payload_keys(self, path: Path, value: Any) -> None:
        """Step Functions reads a key ending in '.$' anywhere in a Task's Parameters as a path
        (AWS refuses the definition when its value is not one): such keys cannot be passed on."""
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if isinstance(key, str) and key.endswith(".$"):
                parent = self.root.find(path)[0]
                self.sink.add(parent.key_locs.get(key, parent.loc), f"input key '{_clip(key)}' ends in '.$', which "
                              "Step Functions reads as a path: rename it")
            self.check_payload_keys((*path, key), item)

    def input_path_problem(self, value: str) -> str | None:
        """Why `$.field.sub...` in an action's input is not a path the machine can read (None if it is)."""
        names = value[2:].split(".") if value.startswith("$.") else [""]
        declared = self.fields.get(names[0])
        if declared is None:
            if value.startswith("$.") and value[2:] in self.fields:  # a declared name with a '.' in it
                return f"'{_clip(value)}': {paths.unreadable(value[2:])}"
            return f"'{_clip(value)}' does not name a declared input field"
        if "" in names:
            return f"'{_clip(value)}' has an empty name after '.'"
        bad = next((n for n in names if not paths.is_path_name(n)), None)
        if bad is not None:
            return f"'{_clip(value)}': {paths.unreadable(bad)}"
        if len(names) > 1 and declared.type != "object":
            return f"{declared.type} field '{names[0]}' has no field '{_clip(names[1])}'"
        if not declared.required and declared.default is None:
            # A Parameters path that finds nothing fails the execution (States.Runtime), which no
            # Catch handles: the run would end without an outcome.
            return (f"'{_clip(value)}' reads optional field '{names[0]}', which has no default: the run would fail "
                    "here when it is absent (make it required: true or give it a default)")
        return None

    def check_wait(self, path: Path, step: WaitStep) -> None:
        if (step.duration is None) == (step.until is None):
            self.error(path, "a wait step needs exactly one of 'duration' or 'until'")
        if step.until is not None:
            name = step.until[2:] if step.until.startswith("$.") else ""
            declared = self.fields.get(name)
            if declared is None or declared.type != "string":
                self.error(
                    (*path, "until"), f"until must be '$.field' naming a declared string field, not '{step.until}'"
                )
            elif not paths.is_path_name(name):
                self.error((*path, "until"), f"until: {paths.unreadable(name)}")
            elif not declared.required:
                # Step Functions fails the run at a Wait whose TimestampPath finds nothing.
                self.error((*path, "until"), f"until field '{name}' must be required: true, or the run fails at "
                           "the wait when it is absent")

    def check_condition(self, path: Path, text: str) -> None:
        node, _ = self.root.find(path)
        end = len(text.rstrip())  # "end of condition" is just past its last character, not a line below
        try:
            expr = conditions.parse(text)
        except conditions.ConditionError as exc:
            self.sink.add(node.loc_at(min(exc.offset, end)), exc.message)
            return
        problems = conditions.check(expr, self.types) + self.unreadable_fields(expr)
        for problem in sorted(problems, key=lambda p: p.offset):
            self.sink.add(node.loc_at(min(problem.offset, end)), problem.message)
        if not problems:
            self.parsed[path] = expr


    def unreadable_fields(self, expr: conditions.Expr) -> list[conditions.ConditionError]:
        """Declared fields a Choice rule cannot read: CEL takes `_x`, a Step Functions path does not."""
        found = []
        for f in conditions.fields_of(expr):
            if f.path[0] in self.types:
                bad = next((n for n in f.path if not paths.is_path_name(n)), None)
                if bad is not None:
                    found.append(conditions.ConditionError(paths.unreadable(bad), f.offset))
        return found


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _fits(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def fixed_user_count(approvers: list[Any]) -> int | None:
    """How many approvers a step has when they are all named users; None when it depends on the run."""
    if all(isinstance(s, UsersSpec) for s in approvers):
        return len({u for s in approvers for u in s.users})
    return None


def walk_steps(steps: list[Any], path: Path) -> Iterator[tuple[Path, Any]]:
    """Every step, nested ones included, in document order, with its YAML path."""
    for i, step in enumerate(steps):
        if step is None:
            continue
        here = (*path, i)
        yield here, step
        if isinstance(step, ParallelStep):
            for b, branch in enumerate(step.branches):
                yield from walk_steps(branch, (*here, "branches", b))
        elif isinstance(step, BranchStep):
            for c, case in enumerate(step.cases):
                yield from walk_steps(case.steps, (*here, "cases", c, "steps"))
            if step.default:
                yield from walk_steps(step.default, (*here, "default"))
