"""OpenStepFunction: open a human stage (waitForTaskToken): store the token, assignees, rule and
deadline; settle at once what nobody has to decide."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..clock import iso
from ..contract.names import ApprovalError
from ..contract.tasks import OpenStepInput
from ..domain import Approval, ApprovalStatus, Directory, InvalidInput, Outcome, Step, StepStatus, parse_mode
from ..domain.audit import NewEvent
from ..domain.policy import delegates_at_open
from ..unit_of_work.publish import business_event
from ..unit_of_work.read_modify_write import Change, mutate
from ..unit_of_work.tokens import complete_token
from ..unit_of_work.writes import StepWrite
from ..wiring import Runtime, default_runtime


def _assignees(
    directory: Directory, event: OpenStepInput, approval: Approval
) -> tuple[list[str], str | None, str, list[str]]:
    """Resolve the stage's approvers. People the directory does not know are left out (nobody
    could act as them); when those left cannot meet the stage's rule (nobody, or fewer than its
    quorum) `if_no_approvers` applies. Returns the assignees, the outcome to settle with at once
    when nobody will decide, why, and the ids left out."""
    spec = event.spec
    if event.kind == "resubmit":
        return [approval.requester], None, "", []
    rule = parse_mode(spec.mode)
    found, unknown = _known(directory, directory.resolve_all(list(spec.approvers), approval.requester,
                                                             approval.input))
    if rule.met_by(len(found)):
        return found, None, "", unknown
    reason = "no approvers" if not found else f"{len(found)} approvers cannot meet mode {json.dumps(rule.to_json())}"
    policy = event.settings.get("if_no_approvers", "reject")
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


def _same_entry(approval: Approval, event: OpenStepInput) -> Step | None:
    """The stage an earlier invoke of this same Task entry opened, if any (by $$.State.EnteredTime)."""
    if not event.entered_at:
        return None  # a machine compiled before the entry time was passed on
    found = [s for s in approval.steps if s.step == event.step and s.machine_stage == event.stage
             and s.entered_at == event.entered_at]
    return max(found, key=lambda s: s.stage) if found else None


def _new_stage(event: OpenStepInput, approval: Approval, at: str, now: datetime) -> Step:
    """The stage item a (re)opening creates: numbered after every earlier stage of the step."""
    spec = event.spec
    previous = approval.current(event.step)
    timeout = spec.timeout_seconds
    return Step(
        step=event.step, stage=previous.stage + 1 if previous is not None else 0, status=StepStatus.OPEN,
        mode=parse_mode(spec.mode).to_json(), task_token=event.task_token, opened_at=at,
        deadline=iso(now + timedelta(seconds=timeout)) if timeout else None, title=spec.title,
        kind=event.kind, machine_stage=event.stage, allow=list(spec.allow), return_to=list(spec.return_to),
        remind_seconds=list(spec.remind_seconds), entered_at=event.entered_at,
    )


def open_step(event: OpenStepInput, rt: Runtime | None = None) -> dict[str, Any]:
    """`OpenStepFunction`: store token, assignees, rule and deadline; emit `Step Opened`; return at once.
    A stage nobody has to decide (no approvers, auto-approved, or the approval was withdrawn
    meanwhile) is settled here and its token completed at once."""
    rt = rt or default_runtime()
    tenant, approval_id, step_id = event.tenant, event.approval_id, event.step
    token = event.task_token
    directory = rt.store.get_directory(tenant)

    def change(approval: Approval, now: datetime) -> Change | None:
        if any(s.task_token == token for s in approval.steps):
            return None  # the same Task invoked us again: already done
        attempt = _same_entry(approval, event)
        if attempt is not None:
            # A retried invoke of the Task that opened `attempt` (a Lambda error, a lost answer): Step
            # Functions now waits on the new token only. An open stage takes it; a stage settled
            # meanwhile (its decision completed the old token in vain) hands its outcome to it.
            was_settled = attempt.status is not StepStatus.OPEN
            renewed = replace(attempt, task_token=token, callback="pending" if was_settled else attempt.callback)
            return Change(steps=[StepWrite(renewed, expect=frozenset({attempt.status}))], result=(renewed, True))
        at = iso(now)
        stage = _new_stage(event, approval, at, now)
        previous = approval.current(step_id)
        if approval.status is not ApprovalStatus.RUNNING:
            # Withdrawn while the run was between steps: this one ends at once, and so does the run.
            stage = replace(stage, status=StepStatus.CANCELLED, settled_at=at, callback="pending",
                            signal=ApprovalError.WITHDRAWN.value)
            data = {"step": step_id, "stage": stage.stage, "reason": f"approval {approval.status.value}"}
            return Change(steps=[StepWrite(stage, may_create=True)], result=(stage, False),
                          events=[NewEvent("Step Cancelled", actor="system", data=data)])
        assignees, settled, reason, unknown = _assignees(directory, event, approval)
        if settled is None and stage.kind == "approval" and _auto_approved(event.settings, approval, assignees):
            settled, reason = Outcome.APPROVED.value, "auto_approve"
        stage.assignees = assignees
        if settled:
            stage = replace(stage, status=StepStatus(settled), settled_at=at, callback="pending", outcome=settled,
                            signal=None if settled == Outcome.APPROVED.value else ApprovalError.REJECTED.value)
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
        # Integrations mail the assignees on `Step Opened`: not for a stage that settled at once.
        told = [business_event(new.type, approval, step_id, **{k: v for k, v in new.data.items() if k != "step"})
                for new in events
                if new.type == "Step Escalated" or (new.type == "Step Opened" and stage.status is StepStatus.OPEN)]
        return Change(steps=writes, events=events, result=(stage, False), publish=told)

    approval, planned = mutate(rt, tenant, approval_id, change)
    if planned is None:
        return {"step": step_id, "status": "open", "repeated": True}
    stage: Step
    stage, retried = planned.result
    if stage.status is not StepStatus.OPEN:
        complete_token(rt, approval, stage)
    elif retried:
        # A retried invoke of the Task that opened this stage: a wide stage's inbox entries follow its
        # change (store.py), so the invoke that died may have left some unwritten.
        rt.store.restore_inbox(approval, stage)
    return {"step": step_id, "stage": stage.stage, "status": stage.status.value, "assignees": stage.assignees}
