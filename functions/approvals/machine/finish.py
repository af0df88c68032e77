"""FinishFunction: the run's outcome, the status of every step, the events, then the archive."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from .. import catalog
from ..archive.write import archive_approval
from ..catalog import StepInfo
from ..clock import iso
from ..contract.names import ACTION_FAILED_PREFIX
from ..contract.tasks import FinishInput, FinishNotify, OutcomeNotify
from ..domain import Approval, ApprovalStatus, Step, StepStatus
from ..domain.audit import NewEvent
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime
from .notify import resolve_recipients


def _key(step_id: str) -> str:
    return step_id.replace("-", "_")


_RESULT_BUCKETS = ("actions", "failures", "compensation_failures")


def _run_results(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's `actions`, `failures` and `compensation_failures`, those of parallel branches
    included: a Parallel keeps branch i's `actions` and `parallel` under `parallel.<key>.actions[i]`
    and `parallel.<key>.parallel[i]` (docs/state-machine-contract.md); machines compiled before
    kept each branch's whole final state under `parallel.<key>[i]`."""
    found: dict[str, dict[str, Any]] = {bucket: {} for bucket in _RESULT_BUCKETS}

    def walk(node: Mapping[str, Any]) -> None:
        parallels = node.get("parallel")
        for branches in parallels.values() if isinstance(parallels, Mapping) else ():
            for branch in _branches(branches):
                walk(branch)
        for bucket in _RESULT_BUCKETS:  # after the branches: a branch starts from a copy of its parent
            values = node.get(bucket)
            if isinstance(values, Mapping):
                found[bucket].update(values)

    walk(state)
    # An action that failed in a branch ended the Parallel, which kept the error under its own key:
    # `Action.Failed.<action key>`, the action's own error as the cause (dsl_compiler/emit.py).
    failures = found["failures"]
    for key, error in list(failures.items()):
        name = str(error.get("Error") or "") if isinstance(error, Mapping) else ""
        if name.startswith(ACTION_FAILED_PREFIX):
            try:
                original = json.loads(str(error.get("Cause") or ""))
            except ValueError:
                original = None
            del failures[key]
            failures[name.removeprefix(ACTION_FAILED_PREFIX)] = original if isinstance(original, Mapping) else error
    return found


def _branches(kept: Any) -> list[Mapping[str, Any]]:
    """Each branch's end, from what a Parallel kept (either shape, above)."""
    if isinstance(kept, list):
        return [b for b in kept if isinstance(b, Mapping)]
    if not isinstance(kept, Mapping):
        return []
    actions, inner = kept.get("actions"), kept.get("parallel")
    actions = actions if isinstance(actions, list) else []
    inner = inner if isinstance(inner, list) else []
    return [{"actions": a, "parallel": p} for a, p in zip(actions, inner, strict=False)]  # one of each a branch


def _failed_step(results: dict[str, dict[str, Any]], info: Mapping[str, StepInfo]) -> Any:
    """The error of a step (not an action) that failed inside a parallel branch: the Parallel kept it
    under its own key (an action's is unwrapped by _run_results). Taken out of the failures: it is
    the run's error, not an `Action Failed`."""
    parallels = {_key(s) for s, step in info.items() if step.type == "parallel"}
    errors = [results["failures"].pop(key) for key in list(results["failures"]) if key in parallels]
    return errors[0] if errors else None


def _unopened_status(
    step_id: str, results: Mapping[str, Mapping[str, Any]], outcome: ApprovalStatus, info: Mapping[str, StepInfo],
    approval: Approval,
) -> StepStatus:
    """A step with no stage item: an action that ran (its result or error is in the run's results
    under the step id with `-` as `_`; compensated if the run did not end approved and its
    compensation did not fail), a wait some later step ran after, else one the run never reached
    or skipped."""
    key = _key(step_id)
    actions, failures = results["actions"], results["failures"]
    if key in failures:
        return StepStatus.FAILED
    step = info.get(step_id)
    if key in actions:
        undone = step is not None and step.compensate and key not in results["compensation_failures"]
        return StepStatus.COMPENSATED if undone and outcome is not ApprovalStatus.APPROVED else StepStatus.SUCCEEDED
    if step is not None and step.type == "wait":
        later = step.followers
        if any(approval.current(f) is not None or _key(f) in actions or _key(f) in failures for f in later):
            return StepStatus.SUCCEEDED
    return StepStatus.SKIPPED


def _action_failures(
    steps: Sequence[str], results: Mapping[str, Mapping[str, Any]], info: Mapping[str, StepInfo]
) -> list[dict[str, Any]]:
    """One `Action Failed` body per failed action and per failed compensation."""
    by_key = {_key(s): s for s in steps}
    found: list[dict[str, Any]] = []
    for bucket, compensation in (("failures", False), ("compensation_failures", True)):
        for key, error in sorted(results[bucket].items()):
            step_id = by_key.get(key, key)
            error = error if isinstance(error, Mapping) else {}
            body: dict[str, Any] = {"step": step_id, "error": error.get("Error"),
                                    "cause": str(error.get("Cause") or "")[:500]}
            if compensation:
                step = info.get(step_id)
                body["compensation"] = step.compensate if step is not None else True
            found.append(body)
    return found


def _outcome_notify(notify: FinishNotify, outcome: ApprovalStatus) -> tuple[list[Any], str | None]:
    """Who the flow's `on_<outcome>: notify` tells and its message, from FinishFunction's `notify`:
    keyed by outcome, each `{"to": [specs], "message": text}` (`message` only when the flow gives
    one). Machines compiled before the message was passed on send `{"<outcome>": [specs]}`, which
    is still taken (as is a bare list of specs, for any outcome)."""
    chosen = notify.get(outcome.value) if isinstance(notify, Mapping) else notify
    if isinstance(chosen, OutcomeNotify):
        return list(chosen.to), chosen.message or None
    return list(chosen or []), None


def finish(event: FinishInput, rt: Runtime | None = None) -> dict[str, Any]:
    """`FinishFunction`: the approval takes its outcome; steps that never opened become `skipped`
    (or, for actions, `succeeded`/`failed`/`compensated` from the state), stages still open (a
    cancelled branch) `cancelled`; emit `Action Failed` for each failure and `Approval Completed`."""
    rt = rt or default_runtime()
    outcome = ApprovalStatus(event.outcome)
    state = event.kept()
    results = _run_results(state)
    entry = catalog.find(event.flow, event.flow_version)
    info = entry.step_info if entry is not None else {}
    error = _failed_step(results, info) or state.get("error")
    failures = _action_failures(event.steps, results, info)
    notify, message = _outcome_notify(event.notify, outcome)
    said = {"message": message} if message is not None else {}  # only when the flow gave one
    cc: list[str] = []

    def change(approval: Approval, now: datetime) -> Change | None:
        if approval.completed_at:
            return None  # finished already (a repeated invocation)
        at = iso(now)
        writes: list[StepWrite] = []
        for step_id in event.steps:
            if approval.current(step_id) is None:
                status = _unopened_status(step_id, results, outcome, info, approval)
                kind = info[step_id].type if step_id in info else "approval"
                writes.append(StepWrite(Step(step=step_id, stage=0, status=status, settled_at=at, kind=kind),
                                        may_create=True))
        for stage in approval.open_stages():
            cancelled = replace(stage, status=StepStatus.CANCELLED, settled_at=at)
            writes.append(StepWrite(cancelled, expect=frozenset({StepStatus.OPEN})))
        cc[:] = resolve_recipients(rt, approval, [*event.cc, *notify])
        if outcome is ApprovalStatus.FAILED and approval.requester not in cc:
            cc.append(approval.requester)  # the requester is always told that their request failed
        events = [NewEvent("Action Failed", actor="system", data=body) for body in failures]
        data = {"outcome": outcome.value, "cc": list(cc), "error": error, **said}
        events.append(NewEvent("Approval Completed", actor="system", data=data))
        told = [business_event("Action Failed", approval, body["step"], requester=approval.requester,
                               to=[approval.requester], **{k: v for k, v in body.items() if k != "step"})
                for body in failures]
        told.append(business_event("Approval Completed", approval, None, outcome=outcome.value, cc=list(cc),
                                   requester=approval.requester, **said))
        return Change(steps=writes, status=outcome, events=events, completed=True, publish=told)

    approval, _ = mutate(rt, event.tenant, event.approval_id, change)
    # Also on a repeated invocation: an earlier one may have died between the outcome and the archive.
    key = archive_approval(approval.tenant, approval.id, rt=rt)
    return {"approval_id": approval.id, "outcome": approval.status.value, "archive_key": key}
