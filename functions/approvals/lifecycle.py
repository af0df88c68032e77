"""What the state machine asks of the runtime (docs/state-machine-contract.md): open a human
step, record a timeout, notify, finish a run. Each is idempotent, because a Lambda invocation
may be repeated by a `Retry`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .adapters.store import NewEvent, StepWrite
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
from .runtime import Change, Runtime, complete_token, default_runtime, detail, emit, iso, mutate

# The statuses a stage item may have when (re)opened: new, or sent back by a return.
_OPENABLE = frozenset({StepStatus.PENDING, StepStatus.RETURNED})


def _assignees(directory: Directory, event: Mapping[str, Any], approval: Approval) -> tuple[list[str], str | None]:
    """Resolve the stage's approvers; with nobody found apply `if_no_approvers`. Returns the
    assignees and, when nobody decides, the outcome to settle with at once."""
    spec = event["spec"]
    if event.get("kind") == "resubmit":
        return [approval.requester], None
    found = directory.resolve_all(spec.get("approvers") or [], approval.requester, approval.input)
    if found:
        return found, None
    policy = (event.get("settings") or {}).get("if_no_approvers", "reject")
    if isinstance(policy, Mapping) and "fallback" in policy:
        found = directory.resolve_all(policy["fallback"], approval.requester, approval.input)
        return (found, None) if found else ([], Outcome.REJECTED.value)
    if policy in ("approve", "reject"):
        return [], Outcome.APPROVED.value if policy == "approve" else Outcome.REJECTED.value
    raise InvalidInput(f"unknown if_no_approvers {policy!r}")


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


def open_step(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`OpenStepFunction`: store token, assignees, rule and deadline; emit `Step Opened`; return at once."""
    rt = rt or default_runtime()
    tenant, approval_id, step_id = event["tenant"], event["approval_id"], event["step"]
    stage_no = int(event.get("stage", 0))
    token = event["task_token"]
    spec = event.get("spec") or {}
    directory = rt.store.get_directory(tenant)

    def change(approval: Approval, now: datetime) -> Change | None:
        existing = next((s for s in approval.steps if (s.step, s.stage) == (step_id, stage_no)), None)
        if existing is not None and existing.task_token == token:
            return None  # the same Task invoked us again: already done
        assignees, settled = _assignees(directory, event, approval)
        if settled is None and _auto_approved(event.get("settings") or {}, approval, assignees):
            settled = Outcome.APPROVED.value
        timeout = spec.get("timeout_seconds")
        at = iso(now)
        stage = Step(
            step=step_id, stage=stage_no, status=StepStatus(settled) if settled else StepStatus.OPEN,
            mode=parse_mode(spec.get("mode", "any")).to_json(), assignees=assignees, task_token=token,
            opened_at=at, deadline=iso(now + timedelta(seconds=int(timeout))) if timeout else None,
            title=spec.get("title"), settled_at=at if settled else None, callback="pending" if settled else None,
        )
        writes = [StepWrite(stage, expect=_OPENABLE, may_create=True)]
        data = {"step": step_id, "stage": stage_no, "assignees": assignees, "mode": stage.mode,
                "deadline": stage.deadline, "kind": event.get("kind", "approval")}
        events = [NewEvent("Step Opened", actor="system", data=data)]
        previous = approval.current(step_id)
        if stage_no > 0 and previous is not None and previous.status is StepStatus.OPEN:
            # An escalation replaces the stage that timed out.
            escalated = replace(previous, status=StepStatus.ESCALATED, settled_at=at)
            writes.append(StepWrite(escalated, expect=frozenset({StepStatus.OPEN})))
            events.insert(0, NewEvent("Step Escalated", actor="system",
                                      data={"step": step_id, "stage": previous.stage, "to_stage": stage_no}))
        if settled:
            reason = "no approvers" if not assignees else "auto_approve"
            events.append(NewEvent("Step Settled", actor="system",
                                   data={"step": step_id, "stage": stage_no, "outcome": settled, "reason": reason}))
        return Change(steps=writes, events=events, result=stage)

    approval, planned = mutate(rt, tenant, approval_id, change)
    if planned is None:
        return {"step": step_id, "stage": stage_no, "status": "open", "repeated": True}
    stage: Step = planned.result
    for new in planned.events:
        # Integrations mail the assignees on `Step Opened`: not for a stage that settled at once.
        if new.type == "Step Escalated" or (new.type == "Step Opened" and stage.status is StepStatus.OPEN):
            emit(rt, new.type, detail(approval, step_id, **{k: v for k, v in new.data.items() if k != "step"}))
    if stage.status is not StepStatus.OPEN:
        complete_token(rt, approval, stage, Outcome(stage.status.value))
    return {"step": step_id, "stage": stage_no, "status": stage.status.value, "assignees": stage.assignees}


def step_timed_out(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`StepTimedOutFunction`: the Task timed out and the flow says approve or reject; record it."""
    rt = rt or default_runtime()
    step_id, stage_no, outcome = event["step"], int(event.get("stage", 0)), Outcome(event["outcome"])

    def change(approval: Approval, now: datetime) -> Change | None:
        stage = next((s for s in approval.steps if (s.step, s.stage) == (step_id, stage_no)), None)
        if stage is None or stage.status is not StepStatus.OPEN:
            return None  # already recorded, or settled by a decision that lost the race to the timeout
        timed_out = replace(stage, status=StepStatus.TIMED_OUT, settled_at=iso(now))
        data = {"step": step_id, "stage": stage_no, "outcome": outcome.value}
        return Change(steps=[StepWrite(timed_out, expect=frozenset({StepStatus.OPEN}))],
                      events=[NewEvent("Step Timed Out", actor="system", data=data)])

    approval, planned = mutate(rt, event["tenant"], event["approval_id"], change)
    if planned is not None:
        emit(rt, "Step Timed Out", detail(approval, step_id, stage=stage_no, outcome=outcome.value))
    return {"step": step_id, "stage": stage_no, "outcome": outcome.value}


def _recipients(rt: Runtime, approval: Approval, specs: Sequence[Mapping[str, Any]]) -> list[str]:
    if not specs:
        return []
    return rt.store.get_directory(approval.tenant).resolve_all(list(specs), approval.requester, approval.input)


def notify(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`NotifyFunction`: resolve who to tell, record it, emit `Notification Requested`; no waiting."""
    rt = rt or default_runtime()
    step_id = event.get("step")
    recipients: list[str] = []

    def change(approval: Approval, now: datetime) -> Change:
        recipients[:] = _recipients(rt, approval, event.get("to") or [])
        data = {"step": step_id, "to": list(recipients), "message": event.get("message")}
        return Change(events=[NewEvent("Notified", actor="system", data=data)])

    approval, _ = mutate(rt, event["tenant"], event["approval_id"], change)
    emit(rt, "Notification Requested",
         detail(approval, step_id, to=recipients, message=event.get("message"), requester=approval.requester))
    return {"step": step_id, "to": recipients}


def _unopened_status(step_id: str, state: Mapping[str, Any]) -> StepStatus:
    """A step with no stage item: an action that ran (its result or error is in the state under the
    step id with `-` as `_`), else one the run never reached or skipped by a condition."""
    key = step_id.replace("-", "_")
    if key in (state.get("failures") or {}):
        return StepStatus.FAILED
    if key in (state.get("actions") or {}):
        return StepStatus.SUCCEEDED
    return StepStatus.SKIPPED


def finish(event: Mapping[str, Any], rt: Runtime | None = None) -> dict[str, Any]:
    """`FinishFunction`: the approval takes its outcome; steps that never opened become `skipped`,
    stages still open (a cancelled branch, a withdrawal) `cancelled`; emit `Approval Completed`."""
    rt = rt or default_runtime()
    outcome = ApprovalStatus(event["outcome"])
    cc: list[str] = []

    def change(approval: Approval, now: datetime) -> Change | None:
        if approval.status is not ApprovalStatus.RUNNING:
            return None  # finished already (a repeated invocation)
        at = iso(now)
        state = event.get("state") or {}
        writes: list[StepWrite] = []
        for step_id in event.get("steps") or []:
            if approval.current(step_id) is None:
                status = _unopened_status(step_id, state)
                writes.append(StepWrite(Step(step=step_id, stage=0, status=status, settled_at=at), may_create=True))
        for stage in approval.steps:
            if stage.status is StepStatus.OPEN:
                cancelled = replace(stage, status=StepStatus.CANCELLED, settled_at=at)
                writes.append(StepWrite(cancelled, expect=frozenset({StepStatus.OPEN})))
        notify = event.get("notify") or []
        if isinstance(notify, Mapping):  # the compiler sends on_<outcome> notifies keyed by outcome
            notify = notify.get(outcome.value) or []
        cc[:] = _recipients(rt, approval, [*(event.get("cc") or []), *notify])
        data = {"outcome": outcome.value, "cc": list(cc), "error": state.get("error")}
        return Change(steps=writes, status=outcome,
                      events=[NewEvent("Approval Completed", actor="system", data=data)])

    approval, planned = mutate(rt, event["tenant"], event["approval_id"], change)
    if planned is not None:
        emit(rt, "Approval Completed", detail(approval, None, outcome=outcome.value, cc=cc,
                                              requester=approval.requester))
    return {"approval_id": approval.id, "outcome": approval.status.value}
