"""What the state machine asks of the runtime (docs/state-machine-contract.md): open a human
step, record a timeout, notify, finish a run. Each is idempotent, because a Lambda invocation
may be repeated by a `Retry`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from . import archiving, catalog
from .adapters.store import NewEvent, StepWrite
from .catalog import StepInfo
from .domain import (
    Approval,
    ApprovalStatus,
    Directory,
    InvalidInput,
    Outcome,
    Step,
    StepStatus,
    parse_mode,
)
from .domain.policy import delegates_at_open
from .runtime import Change, Runtime, complete_token, default_runtime, detail, emit, iso, mutate

WITHDRAWN = "Approval.Withdrawn"


def _assignees(
    directory: Directory, event: Mapping[str, Any], approval: Approval
) -> tuple[list[str], str | None, str, list[str]]:
    """Resolve the stage's approvers. People the directory does not know are left out (nobody
    could act as them); when those left cannot meet the stage's rule (nobody, or fewer than its
    quorum) `if_no_approvers` applies. Returns the assignees, the outcome to settle with at once
    when nobody will decide, why, and the ids left out."""
    spec = event["spec"]
    if event.get("kind") == "resubmit":
        return [approval.requester], None, "", []
    rule = parse_mode(spec.get("mode", "any"))
    found, unknown = _known(directory, directory.resolve_all(spec.get("approvers") or [], approval.requester,
                                                             approval.input))
    if rule.met_by(len(found)):
        return found, None, "", unknown
    reason = "no approvers" if not found else f"{len(found)} approvers cannot meet mode {json.dumps(rule.to_json())}"
    policy = (event.get("settings") or {}).get("if_no_approvers", "reject")
    if isinstance(policy, Mapping) and "fallback" in policy:
        fallback, left_out = _known(directory, directory.resolve_all(policy["fallback"], approval.requester,
                                                                     approval.input))
        unknown += left_out
        if rule.met_by(len(fallback)):
            return fallback, None, "", unknown
        return fallback, Outcome.REJECTED.value, reason, unknown
    if policy in ("approve", "reject"):
        return found, Outcome.APPROVED.value if policy == "approve" else Outcome.REJECTED.value, reason, unknown
    raise InvalidInput(f"unknown if_no_approvers {policy!r}")


def _known(directory: Directory, users: Sequence[str]) -> tuple[list[str], list[str]]:
    return [u for u in users if directory.exists(u)], [u for u in users if not directory.exists(u)]


def _auto_approved(settings: Mapping[str, Any], approval: Approval, assignees: Sequence[str]) -> bool:
    """`auto_approve`: skip a stage when every assignee is the requester (`requester`) or has
    already approved earlier in this run (`repeat`). One stranger among them keeps it open."""
    auto = settings.get("auto_approve") or {}
    exempt: set[str] = set()
    if auto.get("requester"):
        exempt.add(approval.requester)
    if auto.get("repeat"):
        exempt |= approval.approvers_so_far()
    return bool(assignees) and all(user in exempt for user in assignees)


def _new_stage(event: Mapping[str, Any], approval: Approval, at: str, now: datetime) -> Step:
    """The stage item a (re)opening creates: numbered after every earlier stage of the step."""
    spec = event.get("spec") or {}
    previous = approval.current(event["step"])
    timeout = spec.get("timeout_seconds")
    return Step(
        step=event["step"], stage=previous.stage + 1 if previous is not None else 0, status=StepStatus.OPEN,
        mode=parse_mode(spec.get("mode", "any")).to_json(), task_token=event["task_token"], opened_at=at,
        deadline=iso(now + timedelta(seconds=int(timeout))) if timeout else None, title=spec.get("title"),
        kind=str(event.get("kind", "approval")), machine_stage=int(event.get("stage", 0)),
        allow=[str(a) for a in spec.get("allow") or []], return_to=[str(r) for r in spec.get("return_to") or []],
        remind_seconds=[int(s) for s in spec.get("remind_seconds") or []],
    )


def open_step(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`OpenStepFunction`: store token, assignees, rule and deadline; emit `Step Opened`; return at once.
    A stage nobody has to decide (no approvers, auto-approved, or the approval was withdrawn
    meanwhile) is settled here and its token completed at once."""
    rt = rt or default_runtime()
    tenant, approval_id, step_id = event["tenant"], event["approval_id"], event["step"]
    token = event["task_token"]
    directory = rt.store.get_directory(tenant)

    def change(approval: Approval, now: datetime) -> Change | None:
        if any(s.task_token == token for s in approval.steps):
            return None  # the same Task invoked us again: already done
        at = iso(now)
        stage = _new_stage(event, approval, at, now)
        previous = approval.current(step_id)
        if approval.status is not ApprovalStatus.RUNNING:
            # Withdrawn while the run was between steps: this one ends at once, and so does the run.
            stage = replace(stage, status=StepStatus.CANCELLED, settled_at=at, callback="pending", signal=WITHDRAWN)
            data = {"step": step_id, "stage": stage.stage, "reason": f"approval {approval.status.value}"}
            return Change(steps=[StepWrite(stage, may_create=True)], result=stage,
                          events=[NewEvent("Step Cancelled", actor="system", data=data)])
        assignees, settled, reason, unknown = _assignees(directory, event, approval)
        if settled is None and stage.kind == "approval" and _auto_approved(event.get("settings") or {}, approval,
                                                                          assignees):
            settled, reason = Outcome.APPROVED.value, "auto_approve"
        stage.assignees = assignees
        if settled:
            stage = replace(stage, status=StepStatus(settled), settled_at=at, callback="pending", outcome=settled,
                            signal=None if settled == Outcome.APPROVED.value else "Approval.Rejected")
        else:
            stage.delegates = delegates_at_open(assignees, directory, now)
        writes = [StepWrite(stage, may_create=True)]
        data = {"step": step_id, "stage": stage.stage, "machine_stage": stage.machine_stage, "assignees": assignees,
                "mode": stage.mode, "deadline": stage.deadline, "kind": stage.kind, "delegates": stage.delegates}
        if unknown:
            data["not_in_directory"] = unknown
        events = [NewEvent("Step Opened", actor="system", data=data)]
        if stage.machine_stage > 0 and previous is not None and previous.status is StepStatus.OPEN:
            # An escalation replaces the stage that timed out.
            escalated = replace(previous, status=StepStatus.ESCALATED, settled_at=at)
            writes.append(StepWrite(escalated, expect=frozenset({StepStatus.OPEN})))
            events.insert(0, NewEvent("Step Escalated", actor="system",
                                      data={"step": step_id, "stage": previous.stage, "to_stage": stage.stage}))
        if settled:
            events.append(NewEvent("Step Settled", actor="system",
                                   data={"step": step_id, "stage": stage.stage, "outcome": settled, "reason": reason}))
        return Change(steps=writes, events=events, result=stage)

    approval, planned = mutate(rt, tenant, approval_id, change)
    if planned is None:
        return {"step": step_id, "status": "open", "repeated": True}
    stage: Step = planned.result
    for new in planned.events:
        # Integrations mail the assignees on `Step Opened`: not for a stage that settled at once.
        if new.type == "Step Escalated" or (new.type == "Step Opened" and stage.status is StepStatus.OPEN):
            emit(rt, new.type, detail(approval, step_id, **{k: v for k, v in new.data.items() if k != "step"}))
    if stage.status is not StepStatus.OPEN:
        complete_token(rt, approval, stage)
    return {"step": step_id, "stage": stage.stage, "status": stage.status.value, "assignees": stage.assignees}


def step_timed_out(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`StepTimedOutFunction`: the Task timed out and the flow says approve or reject; record it
    (status `timed_out`, with the outcome the flow applied)."""
    rt = rt or default_runtime()
    step_id, machine_stage, outcome = event["step"], int(event.get("stage", 0)), Outcome(event["outcome"])
    recorded: list[Step] = []

    def change(approval: Approval, now: datetime) -> Change | None:
        stages = [s for s in approval.steps if s.step == step_id and s.machine_stage == machine_stage]
        stage = max(stages, key=lambda s: s.stage) if stages else None
        if stage is None or stage.status is not StepStatus.OPEN:
            return None  # already recorded, or settled by a decision that lost the race to the timeout
        timed_out = replace(stage, status=StepStatus.TIMED_OUT, settled_at=iso(now), outcome=outcome.value)
        recorded[:] = [timed_out]
        data = {"step": step_id, "stage": stage.stage, "outcome": outcome.value}
        return Change(steps=[StepWrite(timed_out, expect=frozenset({StepStatus.OPEN}))],
                      events=[NewEvent("Step Timed Out", actor="system", data=data)])

    approval, planned = mutate(rt, event["tenant"], event["approval_id"], change)
    if planned is not None:
        emit(rt, "Step Timed Out", detail(approval, step_id, stage=recorded[0].stage, outcome=outcome.value))
    return {"step": step_id, "stage": machine_stage, "outcome": outcome.value}


def _recipients(rt: Runtime, approval: Approval, specs: Sequence[Mapping[str, Any]]) -> list[str]:
    if not specs:
        return []
    return rt.store.get_directory(approval.tenant).resolve_all(list(specs), approval.requester, approval.input)


def notify(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`NotifyFunction`: resolve who to tell, record it (the step `succeeded`), emit
    `Notification Requested`; no waiting."""
    rt = rt or default_runtime()
    step_id = event.get("step")
    recipients: list[str] = []

    def change(approval: Approval, now: datetime) -> Change:
        recipients[:] = _recipients(rt, approval, event.get("to") or [])
        data = {"step": step_id, "to": list(recipients), "message": event.get("message")}
        writes: list[StepWrite] = []
        if step_id:
            previous = approval.current(step_id)
            done = Step(step=step_id, stage=previous.stage + 1 if previous else 0, status=StepStatus.SUCCEEDED,
                        kind="notify", opened_at=iso(now), settled_at=iso(now), assignees=list(recipients))
            writes.append(StepWrite(done, may_create=True))
        return Change(steps=writes, events=[NewEvent("Notified", actor="system", data=data)])

    approval, _ = mutate(rt, event["tenant"], event["approval_id"], change)
    emit(rt, "Notification Requested",
         detail(approval, step_id, to=recipients, message=event.get("message"), requester=approval.requester))
    return {"step": step_id, "to": recipients}


def _key(step_id: str) -> str:
    return step_id.replace("-", "_")


_RESULT_BUCKETS = ("actions", "failures", "compensation_failures")
ACTION_FAILED = "Action.Failed."


def _run_results(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's `actions`, `failures` and `compensation_failures`, those of parallel branches
    included: a Parallel keeps each branch's final state under `parallel.<key>[i]`, actions run
    in a branch put their results there (docs/state-machine-contract.md)."""
    found: dict[str, dict[str, Any]] = {bucket: {} for bucket in _RESULT_BUCKETS}

    def walk(node: Mapping[str, Any]) -> None:
        parallels = node.get("parallel")
        for branches in parallels.values() if isinstance(parallels, Mapping) else ():
            for branch in branches if isinstance(branches, list) else ():
                if isinstance(branch, Mapping):
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
        if name.startswith(ACTION_FAILED):
            try:
                original = json.loads(str(error.get("Cause") or ""))
            except ValueError:
                original = None
            del failures[key]
            failures[name.removeprefix(ACTION_FAILED)] = original if isinstance(original, Mapping) else error
    return found


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


def _outcome_notify(notify: Any, outcome: ApprovalStatus) -> tuple[list[Any], str | None]:
    """Who the flow's `on_<outcome>: notify` tells and its message, from FinishFunction's `notify`:
    keyed by outcome, each `{"to": [specs], "message": text}` (`message` only when the flow gives
    one). Machines compiled before the message was passed on send `{"<outcome>": [specs]}`, which
    is still taken (as is a bare list of specs, for any outcome)."""
    if isinstance(notify, Mapping):
        notify = notify.get(outcome.value)
    if isinstance(notify, Mapping):
        message = notify.get("message")
        return list(notify.get("to") or []), message if isinstance(message, str) and message else None
    return list(notify or []), None


def finish(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`FinishFunction`: the approval takes its outcome; steps that never opened become `skipped`
    (or, for actions, `succeeded`/`failed`/`compensated` from the state), stages still open (a
    cancelled branch) `cancelled`; emit `Action Failed` for each failure and `Approval Completed`."""
    rt = rt or default_runtime()
    outcome = ApprovalStatus(event["outcome"])
    state = event.get("state") or {}
    results = _run_results(state)
    entry = catalog.find(str(event.get("flow", "")), int(event.get("flow_version") or 0))
    info = entry.step_info if entry is not None else {}
    failures = _action_failures(event.get("steps") or [], results, info)
    notify, message = _outcome_notify(event.get("notify"), outcome)
    said = {"message": message} if message is not None else {}  # only when the flow gave one
    cc: list[str] = []

    def change(approval: Approval, now: datetime) -> Change | None:
        if approval.completed_at:
            return None  # finished already (a repeated invocation)
        at = iso(now)
        writes: list[StepWrite] = []
        for step_id in event.get("steps") or []:
            if approval.current(step_id) is None:
                status = _unopened_status(step_id, results, outcome, info, approval)
                kind = info[step_id].type if step_id in info else "approval"
                writes.append(StepWrite(Step(step=step_id, stage=0, status=status, settled_at=at, kind=kind),
                                        may_create=True))
        for stage in approval.open_stages():
            cancelled = replace(stage, status=StepStatus.CANCELLED, settled_at=at)
            writes.append(StepWrite(cancelled, expect=frozenset({StepStatus.OPEN})))
        cc[:] = _recipients(rt, approval, [*(event.get("cc") or []), *notify])
        if outcome is ApprovalStatus.FAILED and approval.requester not in cc:
            cc.append(approval.requester)  # the requester is always told that their request failed
        events = [NewEvent("Action Failed", actor="system", data=body) for body in failures]
        data = {"outcome": outcome.value, "cc": list(cc), "error": state.get("error"), **said}
        events.append(NewEvent("Approval Completed", actor="system", data=data))
        return Change(steps=writes, status=outcome, events=events, completed=True)

    approval, planned = mutate(rt, event["tenant"], event["approval_id"], change)
    if planned is not None:
        for body in failures:
            emit(rt, "Action Failed", detail(approval, body["step"], **{k: v for k, v in body.items() if k != "step"},
                                             requester=approval.requester, to=[approval.requester]))
        emit(rt, "Approval Completed", detail(approval, None, outcome=outcome.value, cc=cc,
                                              requester=approval.requester, **said))
    # Also on a repeated invocation: an earlier one may have died between the outcome and the archive.
    key = archiving.archive_approval(approval.tenant, approval.id, rt=rt)
    return {"approval_id": approval.id, "outcome": approval.status.value, "archive_key": key}
