"""Visibility, delegation, reminders and auto-approval bookkeeping (approvals.domain.policy, model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from approvals.domain import (
    AddedSigner,
    Approval,
    Decision,
    DecisionRecord,
    Directory,
    NotAllowed,
    NotFound,
    NotRequester,
    Step,
    StepStatus,
    TooSoon,
    Transfer,
    policy,
)

NOW = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
DIRECTORY = Directory.from_dict({
    "tenant": "acme",
    "users": [
        {"id": "ann", "manager": "bob"}, {"id": "bob"}, {"id": "dave"}, {"id": "erin"}, {"id": "gina"},
        {"id": "root", "roles": ["admin"]}, {"id": "mallory"},
    ],
    "delegations": [{"from": "bob", "to": "dave", "starts": "2026-12-20T00:00:00Z", "ends": "2027-01-05T00:00:00Z"}],
})


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def approval(*steps: Step) -> Approval:
    return Approval(id="a1", tenant="acme", flow="f", flow_version=1, requester="ann", input={}, steps=list(steps))


def open_stage(**kw: Any) -> Step:
    base: dict[str, Any] = {"step": "manager", "stage": 0, "status": StepStatus.OPEN, "assignees": ["bob"],
                            "opened_at": iso(NOW)}
    base.update(kw)
    return Step(**base)


# --- visibility -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("ann", True),  # requester
        ("bob", True),  # assignee
        ("gina", True),  # added signer
        ("erin", True),  # transferred away
        ("root", True),  # tenant admin
        ("dave", True),  # stands in for bob now
        ("mallory", False),
        ("nobody", False),  # not even in the directory
    ],
)
def test_who_sees_an_approval(user: str, visible: bool) -> None:
    stage = open_stage(signers=[AddedSigner("gina", "after", "bob", iso(NOW))],
                       transfers=[Transfer("erin", "bob", "erin", iso(NOW))])
    a = approval(stage)
    assert policy.can_see(a, user, DIRECTORY, NOW) is visible
    if not visible:
        with pytest.raises(NotFound):
            policy.check_visible(a, user, DIRECTORY, NOW)


def test_a_delegate_sees_it_only_during_the_delegation() -> None:
    a = approval(open_stage())
    assert not policy.can_see(a, "dave", DIRECTORY, NOW - timedelta(days=10))
    assert policy.can_see(a, "dave", DIRECTORY, NOW)


def test_only_the_requester() -> None:
    policy.check_requester(approval(), "ann", "withdraw")
    with pytest.raises(NotRequester):
        policy.check_requester(approval(), "bob", "withdraw")


# --- acting for ---------------------------------------------------------------------------------


def test_counts_for_self_delegation_and_recorded_delegate() -> None:
    stage = open_stage()
    assert policy.counts_for(stage, "bob", DIRECTORY, NOW) == "bob"
    assert policy.counts_for(stage, "dave", DIRECTORY, NOW) == "bob"  # active delegation
    later = NOW + timedelta(days=30)
    with pytest.raises(NotAllowed):
        policy.counts_for(stage, "dave", DIRECTORY, later)
    # resolved when the stage opened: the delegate keeps standing in for this stage
    assert policy.counts_for(open_stage(delegates={"bob": "dave"}), "dave", DIRECTORY, later) == "bob"
    assert policy.delegates_at_open(["bob", "gina"], DIRECTORY, NOW) == {"bob": "dave"}


# --- reminders ----------------------------------------------------------------------------------


def test_manual_reminder_at_most_once_an_hour_per_step() -> None:
    fresh = open_stage()
    assert policy.check_remind([fresh], NOW) == [fresh]
    reminded = open_stage(last_reminded_at=iso(NOW - timedelta(minutes=20)))
    with pytest.raises(TooSoon) as early:
        policy.check_remind([reminded], NOW)
    assert early.value.retry_after == 40 * 60
    other = open_stage(step="hr")
    assert policy.check_remind([reminded, other], NOW) == [other]  # the step not reminded yet goes
    assert policy.check_remind([open_stage(last_reminded_at=iso(NOW - timedelta(hours=1)))], NOW)
    assert policy.remind_wait(None, NOW) == 0


def test_scheduled_reminders() -> None:
    stage = open_stage(remind_seconds=[86400, 172800])
    assert policy.next_reminder(stage) == iso(NOW + timedelta(days=1))
    assert policy.reminders_passed(stage, NOW + timedelta(hours=23)) == 0
    assert policy.reminders_passed(stage, NOW + timedelta(days=1)) == 1
    assert policy.reminders_passed(stage, NOW + timedelta(days=3)) == 2  # a late sweep sends one, not two
    stage.reminders_sent = 1
    assert policy.next_reminder(stage) == iso(NOW + timedelta(days=2))
    stage.reminders_sent = 2
    assert policy.next_reminder(stage) is None
    assert policy.next_reminder(open_stage(remind_seconds=[60], status=StepStatus.APPROVED)) is None


# --- auto_approve.repeat bookkeeping -------------------------------------------------------------


def test_approvals_before_a_return_do_not_count_for_repeat() -> None:
    before = iso(NOW)
    legal = open_stage(step="legal", status=StepStatus.APPROVED, assignees=["gina"], settled_at=before,
                       decisions=[DecisionRecord("gina", Decision.APPROVE, before, "gina")])
    assert approval(legal).approvers_so_far() == {"gina"}
    returned = open_stage(step="committee", status=StepStatus.RETURNED, assignees=["ivy"],
                          settled_at=iso(NOW + timedelta(minutes=5)))
    assert approval(legal, returned).approvers_so_far() == set()
    assert approval(legal, returned).ran("legal") and not approval(legal).ran("hr")
