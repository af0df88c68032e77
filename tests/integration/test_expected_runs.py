"""Every expected run in the comments at the top of flows/*.yaml (the acceptance set), through
the HTTP API only: each person with their own token from the local gateway, deciding when
GET /approvals/{id} shows their step open, the outcome and the steps read back from the API, and
each history's hash chain checked. Only `failing_action` (making a sample action fail, as the
template's FAIL_ACTIONS does) reaches behind the API: that is setup.

Runs on both targets (conftest.py). Locally one hour of flow time is one second. Three runs wait
for a human timeout (access-request security 4h = 4 s, leave-request director 2d = 48 s,
expense-claim department 3d = 72 s): `slow_runs` starts them with the first test and the last
tests check them, so the waits overlap every other run of the module. Each such test is marked
with the flow time it waits, so a target whose clock runs slower leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import pytest

from local.client import ApiError, Client, chain_links, latest, stages, step_statuses
from local.deployed import DeployedStack
from local.remote import Target

pytestmark = pytest.mark.two_targets

FailingAction = Callable[[str], AbstractContextManager[None]]
LEAVE = {"start_date": "2027-02-01", "reason": "family"}
PO = {"vendor": "Acme Supplies", "cost_center": "CC-100"}
CONTRACT = {"counterparty": "Globex", "value": 25000, "region": "US"}
ACCESS = {"system": "billing-db"}


def decide_when_open(api: Client, approval_id: str, step: str, *users: str, decision: str = "approve",
                     stage: int = 0, timeout: float = 15.0) -> dict[str, Any]:
    """Each of `users` in turn decides `step` once the requester sees it open; the approval after."""
    after: dict[str, Any] = {}
    for user in users:
        api.wait_for_step_open(approval_id, step, stage=stage, timeout=timeout)
        after = api.decide(approval_id, step, user, decision)
    return after


def finished(api: Client, approval_id: str, outcome: str, timeout: float = 20.0) -> tuple[dict[str, Any], list[Any]]:
    """The approval and its history once it ended with `outcome`; the history is one hash chain
    that ends with the completion."""
    approval = api.wait_for_status(approval_id, outcome, timeout=timeout)
    events = api.history(approval_id)["events"]
    assert chain_links({"events": events}), [(e["seq"], e["type"]) for e in events]
    assert events[0]["type"] == "Approval Started" and events[-1]["type"] == "Approval Completed"
    assert events[-1]["data"]["outcome"] == outcome
    return approval, events


def of_type(events: list[Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


def refused(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ApiError) as error:
        call()
    return error.value.status, error.value.code


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the human timeouts start first -------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_runs(api: Client) -> dict[str, str]:
    expense = api.start("expense-claim", {"total": 80, "category": "meals", "reviewer": "dave"}, "ann")["id"]
    decide_when_open(api, expense, "peer-review", "dave")
    leave = api.start("leave-request", {**LEAVE, "days": 5}, "ann")["id"]
    decide_when_open(api, leave, "manager", "bob")
    access = api.start("access-request", {**ACCESS, "role": "read", "hours": 2}, "ann")["id"]
    decide_when_open(api, access, "team-lead", "bob")
    return {"expense": expense, "leave": leave, "access": access}


@pytest.mark.flow_time(hours=72)  # starts the runs the last three tests wait on
def test_slow_runs_wait_for_the_right_people(api: Client, slow_runs: dict[str, str]) -> None:
    # security first: its 4 s are running already.
    assert sorted(api.wait_for_step_open(slow_runs["access"], "security")["assignees"]) == ["dave", "jack", "kate"]
    assert api.wait_for_step_open(slow_runs["leave"], "director")["assignees"] == ["bob", "carol"]
    department = api.wait_for_step_open(slow_runs["expense"], "department")
    assert department["assignees"] == ["carol"] and department["deadline"]


# --- leave-request ----------------------------------------------------------------------------------


def test_leave_one_day_manager_approves(api: Client) -> None:
    approval_id = api.start("leave-request", {**LEAVE, "days": 1}, "ann")["id"]
    assert api.wait_for_step_open(approval_id, "manager")["assignees"] == ["bob"]
    decide_when_open(api, approval_id, "manager", "bob")
    # The director step is skipped (days <= 3); hr has no `when`, so it opens for every request.
    assert api.wait_for_step_open(approval_id, "hr")["assignees"] == ["ivy"]
    decide_when_open(api, approval_id, "hr", "ivy")
    approval, _ = finished(api, approval_id, "approved")
    assert step_statuses(approval) == {"manager": "approved", "director": "skipped", "hr": "approved"}


def test_leave_manager_rejects_and_nothing_else_opens(api: Client) -> None:
    approval_id = api.start("leave-request", {**LEAVE, "days": 5}, "ann")["id"]
    decide_when_open(api, approval_id, "manager", "bob", decision="reject")
    approval, events = finished(api, approval_id, "rejected")
    assert step_statuses(approval) == {"manager": "rejected", "director": "skipped", "hr": "skipped"}
    assert [d["step"] for d in of_type(events, "Step Opened")] == ["manager"]


def test_leave_stage_already_approved_by_the_same_person_is_skipped(api: Client) -> None:
    # bob asks: carol approves as his manager; the director stage (bob, carol of eng) has only the
    # requester and carol, who approved already: auto_approve.repeat settles it; HR decides.
    approval_id = api.start("leave-request", {**LEAVE, "days": 5}, "bob")["id"]
    decide_when_open(api, approval_id, "manager", "carol")
    decide_when_open(api, approval_id, "hr", "ivy")
    approval, events = finished(api, approval_id, "approved")
    director = latest(approval, "director")
    assert director["status"] == "approved" and director["decisions"] == []
    assert {"step": "director", "stage": 0, "outcome": "approved", "reason": "auto_approve"} in of_type(
        events, "Step Settled")


# --- purchase-order -----------------------------------------------------------------------------------


def test_purchase_order_500_goes_to_the_manager_chain_then_legal(api: Client) -> None:
    approval_id = api.start("purchase-order", {**PO, "amount": 500}, "ann")["id"]
    assert api.wait_for_step_open(approval_id, "managers")["assignees"] == ["bob", "carol"]
    decide_when_open(api, approval_id, "managers", "bob", "carol")
    assert api.wait_for_step_open(approval_id, "legal")["assignees"] == ["gina", "hank"]
    decide_when_open(api, approval_id, "legal", "gina")
    approval, _ = finished(api, approval_id, "approved")
    assert approval["input"]["currency"] == "USD" and approval["input"]["urgent"] is False  # defaults
    assert [d["user"] for d in latest(approval, "managers")["decisions"]] == ["bob", "carol"]
    assert step_statuses(approval) == {"managers": "approved", "board": "skipped", "finance": "skipped",
                                       "legal": "approved", "security": "skipped", "create-po": "succeeded",
                                       "notify-vendor": "succeeded"}


def test_purchase_order_50000_adds_any_of_finance(api: Client) -> None:
    approval_id = api.start("purchase-order", {**PO, "amount": 50000}, "ann")["id"]
    decide_when_open(api, approval_id, "managers", "bob", "carol")
    finance = api.wait_for_step_open(approval_id, "finance")
    assert (finance["assignees"], finance["mode"]) == (["erin", "frank"], "any")
    decide_when_open(api, approval_id, "finance", "frank")
    decide_when_open(api, approval_id, "legal", "hank")
    approval, _ = finished(api, approval_id, "approved")
    statuses = step_statuses(approval)
    assert (statuses["finance"], statuses["board"], statuses["create-po"]) == ("approved", "skipped", "succeeded")


def test_purchase_order_2000000_needs_2_of_3_of_the_board(api: Client) -> None:
    approval_id = api.start("purchase-order", {**PO, "amount": 2000000}, "ann")["id"]
    decide_when_open(api, approval_id, "managers", "bob", "carol")
    board = api.wait_for_step_open(approval_id, "board")
    assert (board["assignees"], board["mode"]) == (["ceo", "cfo", "cto"], {"quorum": 2})
    api.decide(approval_id, "board", "ceo", "reject")
    assert latest(api.decide(approval_id, "board", "cfo"), "board")["status"] == "open"  # 1 of 2 so far
    assert latest(api.decide(approval_id, "board", "cto"), "board")["status"] == "approved"
    decide_when_open(api, approval_id, "legal", "gina")
    approval, _ = finished(api, approval_id, "approved")
    assert (step_statuses(approval)["finance"], step_statuses(approval)["create-po"]) == ("skipped", "succeeded")


def test_purchase_order_vendor_notice_fails_so_the_po_is_cancelled(api: Client,
                                                                    failing_action: FailingAction) -> None:
    with failing_action("NotifyVendor"):
        approval_id = api.start("purchase-order", {**PO, "amount": 500}, "ann")["id"]
        decide_when_open(api, approval_id, "managers", "bob", "carol")
        decide_when_open(api, approval_id, "legal", "gina")
        approval, events = finished(api, approval_id, "failed", timeout=30)
    statuses = step_statuses(approval)
    assert (statuses["create-po"], statuses["notify-vendor"]) == ("compensated", "failed")  # cancel-po ran
    assert [(f["step"], f["error"]) for f in of_type(events, "Action Failed")] == [("notify-vendor", "ActionFailed")]
    assert "ann" in of_type(events, "Approval Completed")[0]["cc"]


# --- expense-claim ------------------------------------------------------------------------------------


def test_expense_reviewer_then_department_head_then_payout(api: Client) -> None:
    approval_id = api.start("expense-claim", {"total": 120.5, "category": "meals", "reviewer": "dave",
                                              "receipts": ["r1.pdf"]}, "ann")["id"]
    assert api.wait_for_step_open(approval_id, "peer-review")["assignees"] == ["dave"]
    decide_when_open(api, approval_id, "peer-review", "dave")
    assert api.wait_for_step_open(approval_id, "department")["assignees"] == ["carol"]  # eng's head
    decide_when_open(api, approval_id, "department", "carol")
    approval, _ = finished(api, approval_id, "approved")
    assert step_statuses(approval) == {"peer-review": "approved", "department": "approved", "cool-off": "skipped",
                                       "travel-desk": "skipped", "payout": "succeeded"}


def test_expense_unknown_reviewer_is_refused_at_start(api: Client) -> None:
    with pytest.raises(ApiError) as unknown:
        api.start("expense-claim", {"total": 12, "category": "meals", "reviewer": "zed"}, "ann")
    assert (unknown.value.status, unknown.value.code) == (400, "invalid_input")
    assert unknown.value.details == [{"field": "reviewer", "problem": "user 'zed' is not in the directory"}]
    with pytest.raises(ApiError) as bad:
        api.start("expense-claim", {"total": -1, "category": "fun", "reviewer": "dave", "tip": 1}, "ann")
    assert bad.value.status == 400 and {d["field"] for d in bad.value.details} == {"total", "category", "tip"}


@pytest.mark.flow_time(hours=1)
def test_expense_big_travel_cools_off_then_goes_to_the_travel_desk(api: Client, target: Target) -> None:
    approval_id = api.start("expense-claim", {"total": 6200, "category": "travel", "reviewer": "dave"}, "ann")["id"]
    decide_when_open(api, approval_id, "peer-review", "dave")
    department = latest(decide_when_open(api, approval_id, "department", "carol"), "department")
    desk = api.wait_for_step_open(approval_id, "travel-desk", timeout=target.seconds(1) + 15)
    assert desk["assignees"] == ["frank"]
    waited = (at(desk["opened_at"]) - at(department["decisions"][-1]["at"])).total_seconds()
    assert waited >= target.seconds(1), waited  # the 1h cooling-off
    decide_when_open(api, approval_id, "travel-desk", "frank")
    approval, _ = finished(api, approval_id, "approved")
    statuses = step_statuses(approval)
    assert (statuses["cool-off"], statuses["travel-desk"], statuses["payout"]) == ("succeeded", "approved",
                                                                                   "succeeded")


# --- contract-review ---------------------------------------------------------------------------------


def test_contract_legal_then_3_of_5_of_the_committee_then_signed(api: Client) -> None:
    approval_id = api.start("contract-review", CONTRACT, "ann")["id"]
    assert api.wait_for_step_open(approval_id, "legal")["mode"] == "sequential"
    decide_when_open(api, approval_id, "legal", "gina", "hank")
    committee = api.wait_for_step_open(approval_id, "committee")
    assert (sorted(committee["assignees"]), committee["mode"]) == (["gina", "hank", "ivy", "jack", "kate"],
                                                                   {"percent": 60})
    decide_when_open(api, approval_id, "committee", "ivy", "jack", "kate")
    approval, _ = finished(api, approval_id, "approved")
    assert step_statuses(approval) == {"legal": "approved", "eu-privacy": "skipped", "committee": "approved",
                                       "sign-contract": "succeeded"}


def test_contract_signer_added_before_the_reviewer_decides_first(api: Client) -> None:
    approval_id = api.start("contract-review", CONTRACT, "ann")["id"]
    api.wait_for_inbox("gina", approval_id, "legal")
    # legal allows add_signer and transfer, not return
    assert refused(lambda: api.return_step(approval_id, "legal", "gina", "requester")) == (403, "not_allowed")
    api.add_signers(approval_id, "legal", "gina", ["dave"], "before")
    assert refused(lambda: api.decide(approval_id, "legal", "gina")) == (403, "not_allowed")  # dave first
    api.wait_for_inbox("dave", approval_id, "legal")
    assert not [i for i in api.inbox("gina") if i["approval_id"] == approval_id]
    decide_when_open(api, approval_id, "legal", "dave", "gina", "hank")
    decide_when_open(api, approval_id, "committee", "ivy", "jack", "kate")
    approval, events = finished(api, approval_id, "approved")
    assert [d["user"] for d in latest(approval, "legal")["decisions"]] == ["dave", "gina", "hank"]
    assert [(d["users"], d["position"], d["by"]) for d in of_type(events, "Signers Added")] == [
        (["dave"], "before", "gina")]


def test_contract_committee_member_transfers_and_the_trail_shows_both(api: Client) -> None:
    approval_id = api.start("contract-review", CONTRACT, "ann")["id"]
    decide_when_open(api, approval_id, "legal", "gina", "hank")
    api.wait_for_step_open(approval_id, "committee")
    moved = latest(api.transfer(approval_id, "committee", "ivy", "erin"), "committee")
    assert "erin" in moved["assignees"] and "ivy" not in moved["assignees"]
    assert refused(lambda: api.decide(approval_id, "committee", "ivy")) == (403, "not_allowed")
    decide_when_open(api, approval_id, "committee", "erin", "jack", "kate")
    _, events = finished(api, approval_id, "approved")
    transfers = [e for e in events if e["type"] == "Step Transferred"]
    assert [(e["actor"], e["data"]["from"], e["data"]["to"]) for e in transfers] == [("ivy", "ivy", "erin")]
    assert ("erin", "committee") in [(e["actor"], e["data"]["step"]) for e in events
                                     if e["type"] == "Decision Recorded"]
    assert api.approval(approval_id, "ivy")["id"] == approval_id  # she handed it on, she still sees it
    assert refused(lambda: api.approval(approval_id, "cto")) == (404, "not_found")


def test_contract_committee_returns_to_legal_which_opens_again(api: Client) -> None:
    approval_id = api.start("contract-review", {**CONTRACT, "region": "APAC"}, "ann")["id"]
    decide_when_open(api, approval_id, "legal", "gina", "hank")
    api.wait_for_step_open(approval_id, "committee")
    assert refused(lambda: api.return_step(approval_id, "committee", "jack", "sign-contract"))[0] == 400
    api.return_step(approval_id, "committee", "jack", "legal")
    assert api.wait_for_step_open(approval_id, "legal", stage=1)["assignees"] == ["gina", "hank"]  # the same
    decide_when_open(api, approval_id, "legal", "gina", "hank", stage=1)
    assert api.wait_for_step_open(approval_id, "committee", stage=1)["decisions"] == []
    decide_when_open(api, approval_id, "committee", "jack", "kate", "ivy", stage=1)
    approval, events = finished(api, approval_id, "approved")
    assert [s["status"] for s in stages(approval, "legal")] == ["approved", "approved"]
    assert [s["status"] for s in stages(approval, "committee")] == ["returned", "approved"]
    assert [d["step"] for d in of_type(events, "Step Opened")] == ["legal", "committee", "legal", "committee"]


def test_contract_withdrawn_while_the_committee_is_open(api: Client) -> None:
    approval_id = api.start("contract-review", CONTRACT, "ann")["id"]
    decide_when_open(api, approval_id, "legal", "gina", "hank")
    decide_when_open(api, approval_id, "committee", "jack")
    assert refused(lambda: api.withdraw(approval_id, "jack")) == (403, "not_allowed")  # the requester's call
    api.remind(approval_id, "ann")
    assert refused(lambda: api.remind(approval_id, "ann")) == (429, "rate_limited")
    assert api.withdraw(approval_id, "ann")["status"] == "withdrawn"
    assert refused(lambda: api.decide(approval_id, "committee", "kate")) == (409, "conflict")
    approval, events = finished(api, approval_id, "withdrawn")
    statuses = step_statuses(approval)
    assert (statuses["committee"], statuses["sign-contract"]) == ("cancelled", "skipped")  # nothing signed
    assert of_type(events, "Approval Completed")[0]["cc"] == ["gina", "hank"]  # on_withdrawn: tell legal
    # ann's one reminder went to the committee members who had not decided yet
    assert [sorted(r["to"]) for r in of_type(events, "Reminder Due")] == [["gina", "hank", "ivy", "kate"]]
    assert not [i for i in api.inbox("kate") if i["approval_id"] == approval_id]


# --- access-request ----------------------------------------------------------------------------------


def test_access_team_lead_and_security_approve_then_granted(api: Client) -> None:
    approval_id = api.start("access-request", {**ACCESS, "role": "read", "hours": 8}, "ann")["id"]
    assert api.wait_for_step_open(approval_id, "team-lead")["assignees"] == ["bob"]
    decide_when_open(api, approval_id, "team-lead", "bob")
    decide_when_open(api, approval_id, "security", "jack")
    approval, _ = finished(api, approval_id, "approved")
    assert step_statuses(approval) == {"team-lead": "approved", "security": "approved", "ciso": "skipped",
                                       "grant-access": "succeeded", "tell-requester": "succeeded"}
    assert latest(approval, "tell-requester")["assignees"] == ["ann"]


def test_access_grant_fails_three_times(api: Client, stack: DeployedStack, failing_action: FailingAction) -> None:
    with failing_action("GrantAccess"):
        approval_id = api.start("access-request", {**ACCESS, "role": "write", "hours": 4}, "ann")["id"]
        decide_when_open(api, approval_id, "team-lead", "bob")
        decide_when_open(api, approval_id, "security", "kate")
        approval, events = finished(api, approval_id, "failed", timeout=30)
    statuses = step_statuses(approval)
    # Nothing was granted, so nothing is revoked (no step `compensated`), and nobody is told "granted".
    assert (statuses["grant-access"], statuses["tell-requester"]) == ("failed", "skipped")
    assert "compensated" not in statuses.values()
    assert [f["step"] for f in of_type(events, "Action Failed")] == ["grant-access"]
    assert "ann" in of_type(events, "Approval Completed")[0]["cc"]  # the requester is told
    # The API does not show attempts: the execution history does (retry: attempts 3).
    attempts = [e for e in stack.history(approval_id) if e["type"] == "TaskFailed"
                and "GrantAccess failed" in e["taskFailedEventDetails"].get("cause", "")]
    assert len(attempts) == 3


def test_access_admin_role_also_needs_the_ciso(api: Client) -> None:
    approval_id = api.start("access-request", {**ACCESS, "role": "admin", "hours": 1}, "ann")["id"]
    decide_when_open(api, approval_id, "team-lead", "bob")
    decide_when_open(api, approval_id, "security", "jack")
    assert api.wait_for_step_open(approval_id, "ciso")["assignees"] == ["ciso"]
    decide_when_open(api, approval_id, "ciso", "ciso")
    approval, _ = finished(api, approval_id, "approved")
    assert step_statuses(approval)["ciso"] == "approved" and step_statuses(approval)["grant-access"] == "succeeded"


# --- the human timeouts, last ----------------------------------------------------------------------


@pytest.mark.flow_time(hours=4)
def test_access_security_does_not_answer_so_rejected(api: Client, slow_runs: dict[str, str], target: Target) -> None:
    approval_id = slow_runs["access"]
    approval, events = finished(api, approval_id, "rejected", timeout=target.seconds(4) + 15)
    security = latest(approval, "security")
    assert security["status"] == "timed_out" and security["decisions"] == []
    assert of_type(events, "Step Timed Out") == [{"step": "security", "stage": 0, "outcome": "rejected"}]
    assert step_statuses(approval)["grant-access"] == "skipped"


@pytest.mark.flow_time(hours=48)
def test_leave_director_timeout_escalates_to_the_second_manager(api: Client, slow_runs: dict[str, str],
                                                                target: Target) -> None:
    approval_id = slow_runs["leave"]
    escalated = api.wait_for_step_open(approval_id, "director", stage=1, timeout=target.seconds(48) + 30)
    assert escalated["assignees"] == ["carol"]  # ann's manager's manager
    decide_when_open(api, approval_id, "director", "carol", stage=1)
    decide_when_open(api, approval_id, "hr", "ivy")
    approval, events = finished(api, approval_id, "approved")
    assert [(s["status"], s["assignees"]) for s in stages(approval, "director")] == [
        ("escalated", ["bob", "carol"]), ("approved", ["carol"])]
    assert [d["step"] for d in of_type(events, "Step Escalated")] == ["director"]


@pytest.mark.flow_time(hours=72)
def test_expense_department_head_does_not_answer_so_auto_approved(api: Client, slow_runs: dict[str, str],
                                                                  target: Target) -> None:
    approval_id = slow_runs["expense"]
    approval, events = finished(api, approval_id, "approved", timeout=target.seconds(72) + 20)
    department = latest(approval, "department")
    assert department["status"] == "timed_out" and department["decisions"] == []
    assert of_type(events, "Step Timed Out") == [{"step": "department", "stage": 0, "outcome": "approved"}]
    assert step_statuses(approval)["payout"] == "succeeded"
