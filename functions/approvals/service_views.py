"""Reading an approval (state, history, inbox) and the light writes around it: comments,
the requester's reminders, and the scheduled sweeps (reminders due, tokens left behind,
executions that did not start)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from . import archiving
from .adapters.store import NewEvent, StepWrite, waiting_for
from .domain import (
    Approval,
    ApprovalStatus,
    InvalidInput,
    NotAllowed,
    NotFound,
    Step,
    StepNotOpen,
    StepStatus,
)
from .domain.policy import check_remind, check_requester_of_running, check_visible, reminders_passed
from .runtime import (
    LEFTOVER_AFTER,
    Change,
    Runtime,
    default_runtime,
    detail,
    emit,
    finish_leftovers,
    iso,
    mutate,
    start_execution,
)
from .service_common import OPEN_ONLY, directory_of, event_view

MAX_COMMENT = 4000
# An approval written this recently may still be starting in the request that wrote it; one
# whose execution Step Functions kept refusing this long fails (the requester is told).
START_AFTER = timedelta(minutes=1)
START_GIVE_UP = timedelta(hours=1)


def get_approval(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> Approval:
    """The approval, for the requester, anyone who was ever on one of its stages (or stands in for
    one now), or a tenant admin; NotFound (404) for anyone else, as for an id that does not exist."""
    return _read(tenant, approval_id, user, rt or default_runtime())[0]


def history(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> dict[str, Any]:
    """`{"source": "table"|"archive", "events": [{"seq", "type", "actor", "acting_for", "at", "data",
    "hash", "prev_hash"}]}`, oldest first; visible as for get_approval (else NotFound)."""
    rt = rt or default_runtime()
    approval, archived = _read(tenant, approval_id, user, rt)
    if archived is not None:
        return {"source": "archive", "events": archived}
    return {"source": "table", "events": rt.store.history(tenant, approval_id)}


def _read(tenant: str, approval_id: str, user: str, rt: Runtime) -> tuple[Approval, list[Any] | None]:
    """The approval from the table, or, once its items have expired, from the archive (then with
    its archived events)."""
    archived: list[Any] | None = None
    try:
        approval = rt.store.load(tenant, approval_id)
        finish_leftovers(rt, approval)
    except NotFound:
        approval, archived = archiving.load_archived(tenant, approval_id, rt=rt)
    check_visible(approval, user, directory_of(rt, tenant), rt.now())
    return approval, archived


def inbox(tenant: str, user: str, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """Open stages waiting for `user` now, or for someone `user` stands in for now (then
    `acting_for` names them): `[{"approval_id", "flow", "step", "requester", "opened_at", "deadline",
    "stage", "acting_for"}]`, oldest first. Read from the table's inbox index (gsi1)."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)
    sources = [user, *(directory.acting_for(user, rt.now()) if directory is not None else [])]
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for who in dict.fromkeys(sources):
        for item in rt.store.inbox(tenant, who):
            key = (str(item["approval_id"]), str(item["step"]), int(item["stage"]))
            if key in seen:
                continue
            seen.add(key)
            found.append({
                "approval_id": item["approval_id"], "flow": item["flow"], "step": item["step"],
                "requester": item["requester"], "opened_at": item.get("opened_at"), "deadline": item.get("deadline"),
                "stage": int(item["stage"]), "acting_for": None if who == user else who,
            })
    return sorted(found, key=lambda e: (e["opened_at"] or "", e["approval_id"], e["step"]))


def comment(tenant: str, approval_id: str, user: str, text: str, *, rt: Runtime | None = None) -> dict[str, Any]:
    """A comment by the requester or anyone who is or was on a stage (or stands in for one now), as
    an audit event; returns that event as history shows it. NotFound (404) for whoever may not see
    the approval, NotAllowed (403) for a viewer who takes no part (an admin), InvalidInput (400)."""
    rt = rt or default_runtime()
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a comment needs text", [{"field": "text", "problem": "must be non-empty text"}])
    if len(text) > MAX_COMMENT:
        raise InvalidInput("comment too long", [{"field": "text", "problem": f"at most {MAX_COMMENT} characters"}])
    directory = directory_of(rt, tenant)
    written: dict[str, Any] = {}

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        people = approval.participants_ever()
        acting_for = None
        if user != approval.requester and user not in people:
            sources = [s for s in (directory.acting_for(user, now) if directory else []) if s in people]
            if not sources:
                raise NotAllowed(f"{user} takes no part in approval {approval_id}")
            acting_for = sources[0]
        event = NewEvent("Comment Added", actor=user, acting_for=acting_for, data={"text": text})
        written.update(type=event.type, actor=user, acting_for=acting_for, data=event.data, prev=approval.last_hash)
        return Change(events=[event])

    approval, _ = mutate(rt, tenant, approval_id, change)
    emit(rt, "Comment Added", detail(approval, None, user=user))
    return event_view(approval, written["prev"], written)


def remind(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> None:
    """催办: the requester nudges the people of every open step (`Reminder Due`), at most once per
    step per hour. Raises NotFound, NotRequester (403), ApprovalFinished/StepNotOpen (409), and
    TooSoon (a Conflict; map it to 429 with `Retry-After: retry_after`) when every open step was
    reminded within the hour."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)

    def change(approval: Approval, now: datetime) -> Change:
        check_visible(approval, user, directory, now)
        check_requester_of_running(approval, user, "remind")
        stages = [s for s in approval.open_stages() if s.kind == "approval"]
        if not stages:
            raise StepNotOpen(f"no step of approval {approval_id} is waiting for anyone")
        at = iso(now)
        due = [replace(s, last_reminded_at=at) for s in check_remind(stages, now)]
        events = [NewEvent("Reminder Due", actor=user, data={"step": s.step, "stage": s.stage, "kind": "manual",
                                                             "to": waiting_for(s)}) for s in due]
        return Change(steps=[StepWrite(s, expect=OPEN_ONLY) for s in due], events=events, result=due)

    approval, planned = mutate(rt, tenant, approval_id, change)
    assert planned is not None
    for stage in planned.result:
        emit(rt, "Reminder Due", detail(approval, stage.step, stage=stage.stage, to=waiting_for(stage),
                                        kind="manual", requester=approval.requester))


def _stage(approval: Approval, step: str, number: int) -> Step | None:
    return next((s for s in approval.steps if (s.step, s.stage) == (step, number)), None)


def due_reminders(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled reminder sweep (a scheduled handler calls this): for every open stage whose
    next `remind` offset has passed by `now`, record and emit `Reminder Due` once (several offsets
    passed at once make one reminder). Returns what was sent: `[{"tenant", "approval_id", "step",
    "stage", "to"}]`. Safe to run concurrently and repeatedly: each write is conditional."""
    rt = rt or default_runtime()
    now = now or rt.now()
    sent: list[dict[str, Any]] = []
    for item in rt.store.due_stages(iso(now)):
        tenant, approval_id = str(item["tenant"]), str(item["approval_id"])
        step, number = str(item["step"]), int(item["stage"])

        def change(approval: Approval, at: datetime, step: str = step, number: int = number) -> Change | None:
            stage = _stage(approval, step, number)
            if stage is None or stage.status is not StepStatus.OPEN or approval.status is not ApprovalStatus.RUNNING:
                return None
            passed = reminders_passed(stage, now)
            if passed <= stage.reminders_sent:
                return None  # another sweep got here first
            updated = replace(stage, reminders_sent=passed)
            data = {"step": step, "stage": number, "kind": "scheduled", "number": passed, "to": waiting_for(stage)}
            return Change(steps=[StepWrite(updated, expect=OPEN_ONLY)], result=updated,
                          events=[NewEvent("Reminder Due", actor="system", data=data)])

        try:
            approval, planned = mutate(rt, tenant, approval_id, change)
        except NotFound:
            continue
        if planned is None:
            continue
        to = waiting_for(planned.result)
        emit(rt, "Reminder Due", detail(approval, step, stage=number, to=to, kind="scheduled",
                                        requester=approval.requester))
        sent.append({"tenant": tenant, "approval_id": approval_id, "step": step, "stage": number, "to": to})
    return sent


def sweep_callbacks(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled half of exactly-once: every stage, of any tenant, settled more than a moment
    ago whose token was never completed gets it completed now. Returns what it finished."""
    rt = rt or default_runtime()
    cutoff = iso((now or rt.now()) - LEFTOVER_AFTER)
    finished: list[dict[str, Any]] = []
    for item in rt.store.pending_callbacks(cutoff):
        tenant, approval_id = str(item["tenant"]), str(item["approval_id"])
        try:
            approval = rt.store.load(tenant, approval_id)
        except NotFound:
            continue
        if finish_leftovers(rt, approval):
            finished.append({"tenant": tenant, "approval_id": approval_id})
    return finished


def sweep_starts(now: datetime | None = None, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """The scheduled half of "every approval written runs": start the execution of each approval
    written more than a moment ago and never confirmed started (its execution name is its id, so
    one that did start is not started twice); after START_GIVE_UP of refusals, fail it. Returns
    `[{"tenant", "approval_id", "started": bool, "failed": bool}]`."""
    rt = rt or default_runtime()
    now = now or rt.now()
    done: list[dict[str, Any]] = []
    for item in rt.store.pending_starts(iso(now - START_AFTER)):
        tenant, approval_id = str(item["tenant"]), str(item["id"])
        try:
            approval = rt.store.load(tenant, approval_id)
        except NotFound:
            continue
        if not approval.start_pending:
            continue  # the index lags the table
        started = approval.status is ApprovalStatus.RUNNING and start_execution(rt, approval)
        failed = not started and approval.status is ApprovalStatus.RUNNING and (
            approval.created_at <= iso(now - START_GIVE_UP))
        if failed:
            _fail_unstarted(rt, approval)
        if started or failed or approval.status is not ApprovalStatus.RUNNING:
            rt.store.mark_started(tenant, approval_id)  # nothing more to start
        done.append({"tenant": tenant, "approval_id": approval_id, "started": started, "failed": failed})
    return done


def _fail_unstarted(rt: Runtime, approval: Approval) -> None:
    reason = "its execution could not be started"

    def change(current: Approval, at: datetime) -> Change | None:
        if current.status is not ApprovalStatus.RUNNING:
            return None
        data = {"outcome": ApprovalStatus.FAILED.value, "cc": [current.requester], "error": reason}
        return Change(status=ApprovalStatus.FAILED, completed=True,
                      events=[NewEvent("Approval Completed", actor="system", data=data)])

    failed, planned = mutate(rt, approval.tenant, approval.id, change)
    if planned is not None:
        emit(rt, "Approval Completed", detail(failed, None, outcome=ApprovalStatus.FAILED.value,
                                              cc=[failed.requester], error=reason, requester=failed.requester))
        archiving.archive_approval(failed.tenant, failed.id, rt=rt)


def sweep_outbox(*, rt: Runtime | None = None) -> int:
    """Publish the events EventBridge refused when they happened (runtime.emit), then drop them;
    one refused again stays for the next sweep. Returns how many were published."""
    rt = rt or default_runtime()
    published = 0
    for item in rt.store.pending_outbox(iso(rt.now())):
        try:
            rt.events.put(str(item["detail_type"]), json.loads(str(item["detail"])))
        except Exception:
            continue  # still refused: the next sweep tries again
        rt.store.delete_outbox(item)
        published += 1
    return published
