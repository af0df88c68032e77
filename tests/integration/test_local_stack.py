"""Each example flow's simplest expected run (the comments at the top of flows/*.yaml), end to
end on the local stack: compiled machine, real template, handlers, table, events."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from approvals.commands.decide import decide
from approvals.domain import ApprovalStatus, NotAllowed, StepNotOpen, StepStatus
from approvals.queries.inbox import inbox
from approvals.wiring import Runtime
from local.client import chain_links
from local.stack import MotoStack

RUNS: list[Any] = [
    pytest.param(
        "leave-request", "ann", {"days": 1, "start_date": "2026-12-01"},
        # days <= 3: no director. HR has no `when` in the flow, so it opens too.
        {"manager": "bob", "hr": "ivy"}, ["manager", "hr"], [],
        id="leave-request",
    ),
    pytest.param(
        "purchase-order", "ann",
        {"amount": 500, "currency": "USD", "vendor": "Acme Supplies", "new_vendor": False, "urgent": False,
         "cost_center": "CC-100"},
        # manager_chain 2 = bob then carol, one sequential stage; no amount routing; security skipped.
        {"managers": ["bob", "carol"], "legal": "gina"}, ["managers", "legal"], ["create_po", "notify_vendor"],
        id="purchase-order",
    ),
    pytest.param(
        "expense-claim", "ann", {"total": 120.5, "category": "meals", "reviewer": "dave", "receipts": ["r1.pdf"]},
        # the picked reviewer, then eng's head; not travel, so no travel desk.
        {"peer-review": "dave", "department": "carol"}, ["peer-review", "department"], ["payout"],
        id="expense-claim",
    ),
    pytest.param(
        "contract-review", "ann", {"counterparty": "Globex", "value": 25000, "region": "US"},
        # legal is sequential over the role's holders; committee needs 60% of 5 = 3.
        {"legal": ["gina", "hank"], "committee": ["ivy", "jack", "kate"]}, ["legal", "committee"],
        ["sign_contract"],
        id="contract-review",
    ),
    pytest.param(
        "access-request", "ann", {"system": "billing-db", "role": "read", "hours": 8},
        # read for 8h: no CISO.
        {"team-lead": "bob", "security": "jack"}, ["team-lead", "security"], ["grant_access"],
        id="access-request",
    ),
]


@pytest.mark.parametrize(("flow", "requester", "data", "plan", "expected_steps", "actions"), RUNS)
def test_simplest_run_is_approved(
    stack: MotoStack, flow: str, requester: str, data: dict[str, Any], plan: dict[str, Any],
    expected_steps: list[str], actions: list[str],
) -> None:
    approval_id = stack.start_approval(flow, requester, data)

    status, output, opened = stack.drive(approval_id, plan)

    assert status == "SUCCEEDED"
    assert output is not None and output["outcome"] == "approved"
    assert opened == expected_steps
    # One Task state per human step: each step that opened was entered exactly once.
    entries = stack.human_step_entries(approval_id)
    assert Counter(entries) == Counter(expected_steps)
    assert sorted(output.get("actions", {})) == sorted(actions)
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    for step in expected_steps:
        stage = approval.current(step)
        assert stage is not None and stage.status is StepStatus.APPROVED
    # Every change was one revision and one audit event, and the chain links up.
    trail = stack.audit(approval_id)
    assert chain_links({"events": trail})
    assert trail[-1]["type"] == "Approval Completed"


def test_leave_request_emits_business_events(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 2, "start_date": "2026-12-07"})
    status, _, _ = stack.drive(approval_id, {"manager": "bob", "hr": "ivy"})
    assert status == "SUCCEEDED"

    seen = stack.events(approval_id)
    assert all(e["source"] == "approvals" for e in seen)
    # EventBridge promises no order across producers (the test thread, the handlers): count them.
    assert Counter(e["detail-type"] for e in seen) == Counter(
        {"Approval Started": 1, "Step Opened": 2, "Decision Recorded": 2, "Approval Completed": 1}
    )
    # hr opens only after the manager's Task completed, so these two are ordered.
    opened = [e["detail"] for e in seen if e["detail-type"] == "Step Opened"]
    assert [(d["step"], d["assignees"]) for d in opened] == [("manager", ["bob"]), ("hr", ["ivy"])]
    (completed,) = [e["detail"] for e in seen if e["detail-type"] == "Approval Completed"]
    assert completed["outcome"] == "approved" and completed["cc"] == ["kate"]  # cc: role hr-observer


def test_manager_rejects_leave_request(stack: MotoStack) -> None:
    # 5 days would need the director too: rejecting at the manager must stop everything after it.
    approval_id = stack.start_approval("leave-request", "ann", {"days": 5, "start_date": "2026-12-14"})

    status, output, opened = stack.drive(approval_id, {"manager": "bob"}, decision="reject")

    assert status == "SUCCEEDED"  # a business outcome, not a failure
    assert output is not None and output["outcome"] == "rejected"
    assert opened == ["manager"]
    assert stack.human_step_entries(approval_id) == ["manager"]
    approval = stack.approval(approval_id)
    assert approval.status is ApprovalStatus.REJECTED
    manager = approval.current("manager")
    assert manager is not None and manager.status is StepStatus.REJECTED
    for later in ("director", "hr"):
        stage = approval.current(later)
        assert stage is not None and stage.status is StepStatus.SKIPPED


def test_decision_on_a_settled_step_is_refused(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-21"})
    stack.wait_for_open_step(approval_id, "manager")
    stack.decide(approval_id, "manager", "bob", "approve")

    with pytest.raises(StepNotOpen):
        stack.decide(approval_id, "manager", "bob", "reject")
    stack.wait_for_open_step(approval_id, "hr")
    stack.decide(approval_id, "hr", "ivy", "approve")
    status, output = stack.wait_for_end(approval_id)
    assert (status, output and output["outcome"]) == ("SUCCEEDED", "approved")


def test_delegate_decides_acting_for_the_manager(stack: MotoStack) -> None:
    # bob is away 2026-12-20..2027-01-05 (flows/directory.yaml): dave decides in his place.
    during_leave = Runtime(store=stack.rt.store, sfn=stack.rt.sfn, events=stack.rt.events,
                           now=lambda: datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-28"})
    stack.wait_for_open_step(approval_id, "manager")
    waiting = [i for i in inbox("acme", "dave", rt=during_leave) if i["approval_id"] == approval_id]
    assert [(i["step"], i["acting_for"]) for i in waiting] == [("manager", "bob")]

    decide("acme", approval_id, "manager", "dave", "approve", "bob is away", rt=during_leave)

    manager = stack.approval(approval_id).current("manager")
    assert manager is not None and manager.status is StepStatus.APPROVED
    (record,) = manager.decisions
    assert (record.actor, record.user, record.acting_for) == ("dave", "bob", "bob")
    recorded = [e for e in stack.audit(approval_id) if e["type"] == "Decision Recorded"]
    assert [(e["actor"], e["acting_for"]) for e in recorded] == [("dave", "bob")]
    # Outside the window dave is nobody on this step.
    stack.wait_for_open_step(approval_id, "hr")
    with pytest.raises(NotAllowed):
        stack.decide(approval_id, "hr", "dave", "approve")
    stack.decide(approval_id, "hr", "ivy", "approve")
    assert stack.wait_for_end(approval_id)[0] == "SUCCEEDED"


def test_simultaneous_decisions_are_all_recorded_and_settle_once(stack: MotoStack) -> None:
    approval_id = stack.start_approval("contract-review", "ann", {"counterparty": "Initech", "value": 900,
                                                                  "region": "APAC"})
    for user in ("gina", "hank"):  # legal is sequential
        stack.wait_for_open_step(approval_id, "legal")
        stack.decide(approval_id, "legal", user, "approve")
    stack.wait_for_open_step(approval_id, "committee")

    # Four of five committee members press approve at once; three settle it (60%).
    start = threading.Barrier(4)
    results: dict[str, str] = {}

    def press(user: str) -> None:
        start.wait()
        try:
            stack.decide(approval_id, "committee", user, "approve")
            results[user] = "recorded"
        except StepNotOpen:
            results[user] = "too late"

    threads = [threading.Thread(target=press, args=(u,)) for u in ("ivy", "jack", "kate", "gina")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(results.values()) == ["recorded", "recorded", "recorded", "too late"]
    status, output = stack.wait_for_end(approval_id)
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved"
    committee = stack.approval(approval_id).current("committee")
    assert committee is not None and committee.status is StepStatus.APPROVED
    assert sorted(d.user for d in committee.decisions) == sorted(u for u, r in results.items() if r == "recorded")
    assert committee.callback == "sent"
    settled = [e for e in stack.audit(approval_id) if e["type"] == "Step Settled" and e["data"]["step"] == "committee"]
    assert len(settled) == 1
    assert Counter(stack.human_step_entries(approval_id))["committee"] == 1
