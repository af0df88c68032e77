"""The expected runs written in the comments of flows/*.yaml beyond the simplest one, end to end on
the local stack (compiled machines, template, handlers, table, events), driven through the
service functions the API calls.

The runs that wait days for a human timeout are checked through the API by test_expected_runs.py
(their waits overlap there); test_escalation.py checks an escalation in seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from approvals import catalog
from approvals.commands import decide as decide_command
from approvals.commands.add_signers import add_signers
from approvals.commands.comment import comment
from approvals.commands.remind import remind
from approvals.commands.resubmit import resubmit
from approvals.commands.return_step import return_step
from approvals.commands.start import start_approval
from approvals.commands.transfer import transfer
from approvals.commands.withdraw import withdraw
from approvals.domain import (
    ActionNotAllowed,
    ApprovalStatus,
    InvalidInput,
    NotAllowed,
    NotFound,
    NotRequester,
    Step,
    StepNotOpen,
    StepStatus,
    TooSoon,
    UnknownUser,
)
from approvals.queries.approval import get_approval
from approvals.queries.flows import list_flows
from approvals.queries.history import history
from approvals.queries.inbox import inbox
from approvals.sweeps.reminders import due_reminders
from approvals.wiring import Runtime
from local.stack import MotoStack

TENANT = "acme"
FailingAction = Callable[[str], AbstractContextManager[None]]


@pytest.fixture(scope="module", autouse=True)
def flow_catalog(compiled_statemachines: Path) -> Iterator[None]:
    """The service reads the manifests compiled for this run, as the stack deploys them."""
    saved = os.environ.get(catalog.CATALOG_ENV)
    os.environ[catalog.CATALOG_ENV] = str(compiled_statemachines)
    yield
    if saved is None:
        os.environ.pop(catalog.CATALOG_ENV, None)
    else:
        os.environ[catalog.CATALOG_ENV] = saved


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


def open_stage(stack: MotoStack, approval_id: str, step: str, number: int = 0, timeout: float = 15.0) -> Step:
    """The open stage `number` of `step` (stages count openings: escalations and re-openings)."""

    def check() -> Step | None:
        stage = next((s for s in stack.approval(approval_id).steps if (s.step, s.stage) == (step, number)), None)
        if stage is not None and stage.status is StepStatus.OPEN:
            return stage
        if stack.describe(approval_id)["status"] != "RUNNING":
            raise AssertionError(f"{approval_id} ended before {step}#{number} opened")
        return None

    found: Step = wait_for(check, timeout, f"{step}#{number} open")
    return found


def decide(stack: MotoStack, approval_id: str, step: str, *users: str, decision: str = "approve",
           number: int = 0) -> None:
    for user in users:
        open_stage(stack, approval_id, step, number)
        decide_command.decide(TENANT, approval_id, step, user, decision, rt=stack.rt)


def outcome_of(stack: MotoStack, approval_id: str, timeout: float = 20.0) -> tuple[str, str | None]:
    status, output = stack.wait_for_end(approval_id, timeout=timeout)
    return status, (output or {}).get("outcome")


def statuses(stack: MotoStack, approval_id: str) -> dict[str, str]:
    """Step -> status of its latest stage."""
    approval = stack.approval(approval_id)
    return {s.step: approval.current(s.step).status.value for s in approval.steps}  # type: ignore[union-attr]


def audit_types(stack: MotoStack, approval_id: str) -> list[str]:
    return [e["type"] for e in stack.audit(approval_id)]


def entered_states(stack: MotoStack, approval_id: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in stack.history(approval_id)
            if e["type"].endswith("StateEntered")]


# --- leave-request ------------------------------------------------------------------------------


def test_leave_request_repeat_approver_is_skipped(stack: MotoStack) -> None:
    # bob asks: his manager carol approves; the director stage (bob, carol) has only the requester
    # and someone who already approved: auto_approve skips it; HR decides.
    approval_id = start_approval(TENANT, "leave-request", None, "bob", {"days": 5, "start_date": "2027-01-11"},
                                         rt=stack.rt)
    decide(stack, approval_id, "manager", "carol")
    decide(stack, approval_id, "hr", "ivy")
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")
    director = stack.approval(approval_id).current("director")
    assert director is not None and director.status is StepStatus.APPROVED and director.decisions == []
    assert director.outcome == "approved"
    settled = [e["data"] for e in stack.audit(approval_id) if e["type"] == "Step Settled"]
    assert {"step": "director", "stage": 0, "outcome": "approved", "reason": "auto_approve"} in settled


# --- purchase-order ----------------------------------------------------------------------------

PO = {"vendor": "Acme Supplies", "cost_center": "CC-100"}


def test_purchase_order_50000_goes_to_finance(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "purchase-order", None, "ann", {**PO, "amount": 50000}, rt=stack.rt)
    status, output, opened = stack.drive(approval_id, {"managers": ["bob", "carol"], "finance": "frank",
                                                       "legal": "hank"})
    assert (status, output and output["outcome"]) == ("SUCCEEDED", "approved")
    assert opened == ["managers", "finance", "legal"]
    approval = stack.approval(approval_id)
    assert approval.input["currency"] == "USD" and approval.input["urgent"] is False  # defaults filled in
    finance = approval.current("finance")
    assert finance is not None and finance.assignees == ["erin", "frank"] and finance.mode == "any"
    assert statuses(stack, approval_id)["board"] == "skipped"
    assert statuses(stack, approval_id)["create-po"] == "succeeded"


def test_purchase_order_2000000_needs_2_of_3_of_the_board(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "purchase-order", None, "ann", {**PO, "amount": 2000000},
                                         rt=stack.rt)
    decide(stack, approval_id, "managers", "bob", "carol")
    board = open_stage(stack, approval_id, "board")
    assert board.assignees == ["ceo", "cfo", "cto"] and board.mode == {"quorum": 2}
    decide(stack, approval_id, "board", "ceo", decision="reject")
    decide(stack, approval_id, "board", "cfo")
    assert stack.approval(approval_id).current("board").status is StepStatus.OPEN  # type: ignore[union-attr]
    decide(stack, approval_id, "board", "cto")
    decide(stack, approval_id, "legal", "gina")
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")
    assert statuses(stack, approval_id)["finance"] == "skipped"


def test_purchase_order_vendor_notification_fails_and_po_is_cancelled(stack: MotoStack,
                                                                       failing_action: FailingAction) -> None:
    with failing_action("NotifyVendor"):
        approval_id = start_approval(TENANT, "purchase-order", None, "ann", {**PO, "amount": 500},
                                             rt=stack.rt)
        decide(stack, approval_id, "managers", "bob", "carol")
        decide(stack, approval_id, "legal", "gina")
        status, output = stack.wait_for_end(approval_id, timeout=20)
    assert status == "FAILED"  # Approval.Failed: the failed-executions alarm means something broke
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.FAILED
    steps = statuses(stack, approval_id)
    assert (steps["create-po"], steps["notify-vendor"]) == ("compensated", "failed")
    assert "Undo create-po" in entered_states(stack, approval_id)  # cancel-po ran
    failed = [e["data"] for e in stack.audit(approval_id) if e["type"] == "Action Failed"]
    assert [(f["step"], f["error"]) for f in failed] == [("notify-vendor", "ActionFailed")]
    completed = [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == "Approval Completed"]
    assert completed[0]["outcome"] == "failed" and "ann" in completed[0]["cc"]


# --- expense-claim -----------------------------------------------------------------------------


def test_expense_claim_unknown_reviewer_is_refused_at_start(stack: MotoStack) -> None:
    with pytest.raises(UnknownUser) as refused:
        start_approval(TENANT, "expense-claim", None, "ann",
                               {"total": 12, "category": "meals", "reviewer": "zed"}, rt=stack.rt)
    assert refused.value.details == [{"field": "reviewer", "problem": "user 'zed' is not in the directory"}]
    with pytest.raises(InvalidInput) as bad:
        start_approval(TENANT, "expense-claim", None, "ann",
                               {"total": -1, "category": "fun", "reviewer": "dave", "tip": 1}, rt=stack.rt)
    assert {d["field"] for d in bad.value.details} == {"total", "category", "tip"}


def test_expense_claim_big_travel_cools_off_then_travel_desk(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "expense-claim", None, "ann",
                                         {"total": 6200, "category": "travel", "reviewer": "dave"}, rt=stack.rt)
    decide(stack, approval_id, "peer-review", "dave")
    decide(stack, approval_id, "department", "carol")
    settled_at = time.monotonic()
    desk = open_stage(stack, approval_id, "travel-desk")
    assert time.monotonic() - settled_at >= 0.9  # the 1h cool-off is 1 s here
    assert desk.assignees == ["frank"]
    decide(stack, approval_id, "travel-desk", "frank")
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")
    assert "Cool off" in entered_states(stack, approval_id)
    steps = statuses(stack, approval_id)
    assert (steps["cool-off"], steps["travel-desk"], steps["payout"]) == ("succeeded", "approved", "succeeded")


# --- contract-review ---------------------------------------------------------------------------

CONTRACT = {"counterparty": "Globex", "value": 25000, "region": "US"}


def test_contract_signer_added_before_and_committee_member_transfers(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "contract-review", None, "ann", CONTRACT, rt=stack.rt)
    open_stage(stack, approval_id, "legal")
    with pytest.raises(ActionNotAllowed):  # legal allows add_signer and transfer, not return
        return_step(TENANT, approval_id, "legal", "gina", "requester", rt=stack.rt)
    assert [e["step"] for e in inbox(TENANT, "gina", rt=stack.rt) if e["approval_id"] == approval_id] == [
        "legal"]
    add_signers(TENANT, approval_id, "legal", "gina", ["dave"], "before", rt=stack.rt)
    with pytest.raises(NotAllowed):  # dave first
        decide_command.decide(TENANT, approval_id, "legal", "gina", "approve", rt=stack.rt)
    assert [e["approval_id"] for e in inbox(TENANT, "dave", rt=stack.rt)] == [approval_id]
    assert not [e for e in inbox(TENANT, "gina", rt=stack.rt) if e["approval_id"] == approval_id]
    decide(stack, approval_id, "legal", "dave", "gina", "hank")

    committee = open_stage(stack, approval_id, "committee")
    assert len(committee.assignees) == 5
    transfer(TENANT, approval_id, "committee", "ivy", "erin", rt=stack.rt)
    with pytest.raises(NotAllowed):
        decide_command.decide(TENANT, approval_id, "committee", "ivy", "approve", rt=stack.rt)
    decide(stack, approval_id, "committee", "erin", "jack", "kate")
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")

    approval = stack.approval(approval_id)
    legal, moved_stage = approval.current("legal"), approval.current("committee")
    assert legal is not None and [d.user for d in legal.decisions] == ["dave", "gina", "hank"]
    assert moved_stage is not None and "erin" in moved_stage.assignees and "ivy" not in moved_stage.assignees
    trail = stack.audit(approval_id)
    moved = [e for e in trail if e["type"] == "Step Transferred"]
    assert [(e["actor"], e["data"]["from"], e["data"]["to"]) for e in moved] == [("ivy", "ivy", "erin")]
    assert ("erin", "committee") in [(e["actor"], e["data"]["step"]) for e in trail if e["type"] == "Decision Recorded"]
    # ivy handed it on but was an assignee: she still sees it; a stranger does not.
    assert get_approval(TENANT, approval_id, "ivy", rt=stack.rt).id == approval_id
    with pytest.raises(NotFound):
        get_approval(TENANT, approval_id, "cto", rt=stack.rt)


def test_committee_returns_to_legal_which_opens_again(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "contract-review", None, "ann", {**CONTRACT, "region": "APAC"},
                                         rt=stack.rt)
    decide(stack, approval_id, "legal", "gina", "hank")
    open_stage(stack, approval_id, "committee")
    with pytest.raises(InvalidInput):
        return_step(TENANT, approval_id, "committee", "jack", "sign-contract", rt=stack.rt)
    return_step(TENANT, approval_id, "committee", "jack", "legal", rt=stack.rt)
    again = open_stage(stack, approval_id, "legal", number=1)
    assert again.assignees == ["gina", "hank"] and again.machine_stage == 0
    decide(stack, approval_id, "legal", "gina", "hank", number=1)
    committee = open_stage(stack, approval_id, "committee", number=1)
    assert committee.decisions == []
    decide(stack, approval_id, "committee", "jack", "kate", "ivy", number=1)
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")
    approval = stack.approval(approval_id)
    first = next(s for s in approval.steps if (s.step, s.stage) == ("committee", 0))
    assert first.status is StepStatus.RETURNED
    assert [s.status for s in approval.steps if s.step == "legal"] == [StepStatus.APPROVED] * 2
    assert stack.human_step_entries(approval_id) == ["legal", "committee", "legal", "committee"]


def test_return_to_requester_then_resubmit(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "contract-review", None, "ann", CONTRACT, rt=stack.rt)
    decide(stack, approval_id, "legal", "gina", "hank")
    open_stage(stack, approval_id, "committee")
    return_step(TENANT, approval_id, "committee", "kate", "requester", rt=stack.rt)
    open_stage(stack, approval_id, "@requester")
    with pytest.raises(NotRequester):
        resubmit(TENANT, approval_id, "kate", CONTRACT, rt=stack.rt)
    with pytest.raises(InvalidInput):
        resubmit(TENANT, approval_id, "ann", {**CONTRACT, "value": "a lot"}, rt=stack.rt)
    resubmit(TENANT, approval_id, "ann", {**CONTRACT, "value": 19000}, rt=stack.rt)
    legal = open_stage(stack, approval_id, "legal", number=1)
    assert legal.assignees == ["gina", "hank"]
    assert stack.approval(approval_id).input["value"] == 19000
    with pytest.raises(StepNotOpen):
        resubmit(TENANT, approval_id, "ann", CONTRACT, rt=stack.rt)
    withdraw(TENANT, approval_id, "ann", rt=stack.rt)
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "withdrawn")


def test_requester_withdraws_while_committee_is_open(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "contract-review", None, "ann", CONTRACT, rt=stack.rt)
    decide(stack, approval_id, "legal", "gina", "hank")
    open_stage(stack, approval_id, "committee")
    decide(stack, approval_id, "committee", "jack")
    with pytest.raises(NotRequester):
        withdraw(TENANT, approval_id, "jack", rt=stack.rt)
    remind(TENANT, approval_id, "ann", rt=stack.rt)
    with pytest.raises(TooSoon):
        remind(TENANT, approval_id, "ann", rt=stack.rt)
    withdrawn = withdraw(TENANT, approval_id, "ann", rt=stack.rt)
    assert withdrawn.status is ApprovalStatus.WITHDRAWN
    # Those the committee still waited for are told at once, before the run has finished.
    told = [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == "Approval Withdrawn"]
    assert len(told) == 1 and told[0]["steps"] == ["committee"]
    assert sorted(told[0]["to"]) == ["gina", "hank", "ivy", "kate"]
    with pytest.raises(StepNotOpen):
        decide_command.decide(TENANT, approval_id, "committee", "kate", "approve", rt=stack.rt)
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "withdrawn")
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.WITHDRAWN and approval.completed_at
    steps = statuses(stack, approval_id)
    assert (steps["committee"], steps["sign-contract"]) == ("cancelled", "skipped")  # nothing signed
    assert "Sign contract" not in entered_states(stack, approval_id)
    completed = [e["data"] for e in stack.audit(approval_id) if e["type"] == "Approval Completed"]
    assert completed == [{"outcome": "withdrawn", "cc": ["gina", "hank"], "error": completed[0]["error"]}]
    assert not [e for e in inbox(TENANT, "kate", rt=stack.rt) if e["approval_id"] == approval_id]
    assert audit_types(stack, approval_id).count("Reminder Due") == 1


# --- access-request ----------------------------------------------------------------------------


def test_access_grant_fails_three_times(stack: MotoStack, failing_action: FailingAction) -> None:
    with failing_action("GrantAccess"):
        approval_id = start_approval(TENANT, "access-request", None, "ann",
                                             {"system": "billing-db", "role": "write", "hours": 4}, rt=stack.rt)
        decide(stack, approval_id, "team-lead", "bob")
        decide(stack, approval_id, "security", "kate")
        status, _ = stack.wait_for_end(approval_id, timeout=20)
    assert status == "FAILED"
    history = stack.history(approval_id)
    grant_attempts = [e for e in history if e["type"] == "TaskFailed"
                      and "GrantAccess failed" in e["taskFailedEventDetails"].get("cause", "")]
    assert len(grant_attempts) == 3  # retry: attempts 3
    assert "Undo grant-access" not in entered_states(stack, approval_id)  # nothing was granted
    assert statuses(stack, approval_id)["grant-access"] == "failed"
    assert stack.approval(approval_id).status is ApprovalStatus.FAILED
    told = [e["detail"] for e in stack.events(approval_id) if e["detail-type"] == "Action Failed"]
    assert told and told[0]["to"] == ["ann"] and told[0]["step"] == "grant-access"


def test_access_security_timeout_rejects(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "access-request", None, "ann",
                                         {"system": "billing-db", "role": "read", "hours": 2}, rt=stack.rt)
    decide(stack, approval_id, "team-lead", "bob")
    open_stage(stack, approval_id, "security")
    assert outcome_of(stack, approval_id, timeout=15) == ("SUCCEEDED", "rejected")  # 4h is 4 s here
    security = stack.approval(approval_id).current("security")
    assert security is not None and security.status is StepStatus.TIMED_OUT and security.outcome == "rejected"
    assert "Step Timed Out" in audit_types(stack, approval_id)


def test_access_admin_role_needs_the_ciso(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "access-request", None, "ann",
                                         {"system": "billing-db", "role": "admin", "hours": 1}, rt=stack.rt)
    status, output, opened = stack.drive(approval_id, {"team-lead": "bob", "security": "jack", "ciso": "ciso"})
    assert (status, output and output["outcome"]) == ("SUCCEEDED", "approved")
    assert opened == ["team-lead", "security", "ciso"]
    assert statuses(stack, approval_id)["tell-requester"] == "succeeded"


# --- reading, commenting, reminders, admins ------------------------------------------------------


def test_history_comments_admins_and_scheduled_reminders(stack: MotoStack) -> None:
    approval_id = start_approval(TENANT, "leave-request", None, "ann", {"days": 1, "start_date": "2027-02-01"},
                                         rt=stack.rt)
    manager = open_stage(stack, approval_id, "manager")
    assert manager.remind_seconds == [24, 48]  # 1d and 2d, scaled
    posted = comment(TENANT, approval_id, "bob", "back on Monday?", rt=stack.rt)
    with pytest.raises(NotFound):
        comment(TENANT, approval_id, "erin", "hi", rt=stack.rt)
    trail = history(TENANT, approval_id, "ann", rt=stack.rt)
    assert trail["source"] == "table" and trail["events"][-1] == posted

    opened = datetime.fromisoformat(manager.opened_at.replace("Z", "+00:00"))  # type: ignore[union-attr]
    assert [r for r in due_reminders(opened + timedelta(seconds=10), rt=stack.rt)
            if r["approval_id"] == approval_id] == []
    first = [r for r in due_reminders(opened + timedelta(seconds=30), rt=stack.rt)
             if r["approval_id"] == approval_id]
    assert first == [{"tenant": TENANT, "approval_id": approval_id, "step": "manager", "stage": 0, "to": ["bob"]}]
    assert not [r for r in due_reminders(opened + timedelta(seconds=30), rt=stack.rt)
                if r["approval_id"] == approval_id]

    # dave stands in for bob over the holidays: bob's inbox is his then.
    holidays = Runtime(store=stack.rt.store, sfn=stack.rt.sfn, events=stack.rt.events,
                       now=lambda: datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    waiting = [e for e in inbox(TENANT, "dave", rt=holidays) if e["approval_id"] == approval_id]
    assert [(e["step"], e["acting_for"], e["requester"]) for e in waiting] == [("manager", "bob", "ann")]
    assert get_approval(TENANT, approval_id, "dave", rt=holidays).id == approval_id

    directory = stack.rt.store.get_directory(TENANT)
    doc = {"tenant": TENANT, "users": [
        {"id": u.id, "department": u.department, "manager": u.manager, "roles": list(u.roles)}
        for u in directory.users.values()] + [{"id": "root", "department": "exec", "manager": None,
                                              "roles": ["admin"]}],
        "departments": [{"id": d, "head": h} for d, h in directory.department_heads.items()],
        "delegations": [{"from": d.source, "to": d.target, "starts": d.starts.isoformat(), "ends": d.ends.isoformat()}
                        for d in directory.delegations]}
    stack.rt.store.put_directory(TENANT, doc)
    assert get_approval(TENANT, approval_id, "root", rt=stack.rt).id == approval_id
    with pytest.raises(NotAllowed):
        comment(TENANT, approval_id, "root", "admins read, they do not chat", rt=stack.rt)

    decide(stack, approval_id, "manager", "bob")
    decide(stack, approval_id, "hr", "ivy")
    assert outcome_of(stack, approval_id) == ("SUCCEEDED", "approved")
    assert not [r for r in due_reminders(opened + timedelta(days=9), rt=stack.rt)
                if r["approval_id"] == approval_id]
    assert not [e for e in inbox(TENANT, "bob", rt=stack.rt) if e["approval_id"] == approval_id]
    assert {"flow": "leave-request", "version": 1, "title": "Leave request"} in list_flows()
