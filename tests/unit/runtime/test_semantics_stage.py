"""Added signers, transfers and returns on a human stage (approvals.domain.stage): pure rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from approvals.domain import (
    ActionNotAllowed,
    AlreadyDecided,
    Decision,
    DecisionRecord,
    InvalidInput,
    NotAllowed,
    NotReturnable,
    Outcome,
    Step,
    StepStatus,
)
from approvals.domain import stage as rules

AT = "2026-11-30T09:00:00.000Z"
ALL_ACTIONS = ["add_signer", "transfer", "return"]


def stage(assignees: list[str], mode: Any = "all", allow: list[str] | None = None, **kw: Any) -> Step:
    return Step(step="legal", stage=0, status=StepStatus.OPEN, mode=mode, assignees=assignees,
                allow=ALL_ACTIONS if allow is None else allow, **kw)


def decided(s: Step, user: str, decision: str = "approve") -> Step:
    """`user` decides, as service.decide would: only when it is their turn."""
    rules.check_turn(s, user)
    record = DecisionRecord(user=user, decision=Decision(decision), at=AT, actor=user)
    return replace(s, decisions=[*s.decisions, record])


# --- add signer -------------------------------------------------------------------------------


def test_before_signer_decides_first_then_the_adder() -> None:
    s = rules.add_signers(stage(["gina", "hank"], "sequential"), "gina", ["dave"], "before", AT)
    assert rules.ready(s) == ["dave"]
    with pytest.raises(NotAllowed):
        rules.check_turn(s, "gina")
    s = decided(s, "dave")
    assert rules.ready(s) == ["gina"]
    s = decided(s, "gina")
    assert rules.ready(s) == ["hank"] and rules.outcome(s) is Outcome.OPEN
    s = decided(s, "hank")
    assert rules.outcome(s) is Outcome.APPROVED


def test_after_signer_decides_once_the_adder_approved_and_holds_the_stage_open() -> None:
    s = rules.add_signers(stage(["bob"], "any"), "bob", ["carol"], "after", AT)
    assert rules.ready(s) == ["bob"]
    s = decided(s, "bob")
    # bob's approval counts only with carol's: the "any" stage is still open, and it is carol's turn.
    assert rules.outcome(s) is Outcome.OPEN and rules.ready(s) == ["carol"]
    s = decided(s, "carol")
    assert rules.outcome(s) is Outcome.APPROVED


def test_parallel_signer_decides_alongside() -> None:
    s = rules.add_signers(stage(["bob"], "any"), "bob", ["carol", "dave"], "parallel", AT)
    assert rules.ready(s) == ["carol", "dave", "bob"]
    s = decided(decided(s, "carol"), "bob")
    assert rules.outcome(s) is Outcome.OPEN and rules.ready(s) == ["dave"]
    s = decided(s, "dave")
    assert rules.outcome(s) is Outcome.APPROVED


def test_a_reject_by_an_added_signer_counts_as_the_adders_reject() -> None:
    s = rules.add_signers(stage(["gina", "hank"], "all"), "gina", ["dave"], "before", AT)
    s = decided(s, "dave", "reject")
    assert rules.outcome(s) is Outcome.REJECTED and rules.ready(s) == []


def test_added_signers_do_not_change_the_stage_rule() -> None:
    # percent 60 of 5 assignees stays 3 approvals; an added signer is not a sixth voter.
    s = rules.add_signers(stage(["a", "b", "c", "d", "e"], {"percent": 60}), "a", ["x"], "parallel", AT)
    for user in ("b", "c", "d"):
        s = decided(s, user)
    assert rules.outcome(s) is Outcome.APPROVED


def test_add_signer_checks() -> None:
    s = stage(["gina", "hank"], "sequential")
    with pytest.raises(ActionNotAllowed):
        rules.add_signers(stage(["gina"], allow=["transfer"]), "gina", ["dave"], "before", AT)
    with pytest.raises(InvalidInput) as bad:
        rules.add_signers(s, "gina", ["dave"], "sideways", AT)
    assert bad.value.details[0]["field"] == "position"
    with pytest.raises(InvalidInput):
        rules.add_signers(s, "gina", ["hank"], "after", AT)  # already on the stage
    with pytest.raises(InvalidInput):
        rules.add_signers(s, "gina", ["dave", "dave"], "after", AT)
    with pytest.raises(InvalidInput):
        rules.add_signers(s, "gina", [], "after", AT)
    with pytest.raises(NotAllowed):
        rules.add_signers(s, "hank", ["dave"], "after", AT)  # not hank's turn yet
    with pytest.raises(NotAllowed):
        rules.add_signers(s, "mallory", ["dave"], "after", AT)


def test_turn_errors() -> None:
    s = decided(stage(["bob", "carol"], "all"), "bob")
    with pytest.raises(AlreadyDecided):
        rules.check_turn(s, "bob")
    with pytest.raises(NotAllowed):
        rules.check_turn(s, "mallory")


# --- transfer ---------------------------------------------------------------------------------


def test_transfer_puts_the_new_person_in_the_callers_place() -> None:
    s = rules.add_signers(stage(["gina", "hank"], "sequential"), "gina", ["dave"], "after", AT)
    moved = rules.transfer(s, "gina", "erin", "gina", AT)
    assert moved.assignees == ["erin", "hank"]
    assert [(x.user, x.by) for x in moved.signers] == [("dave", "erin")]
    assert [(t.from_user, t.to_user) for t in moved.transfers] == [("gina", "erin")]
    assert rules.ready(moved) == ["erin"]
    with pytest.raises(NotAllowed):
        rules.check_turn(moved, "gina")


def test_transfer_checks() -> None:
    s = stage(["gina", "hank"], "all")
    with pytest.raises(ActionNotAllowed):
        rules.transfer(stage(["gina"], allow=[]), "gina", "erin", "gina", AT)
    with pytest.raises(InvalidInput):
        rules.transfer(s, "gina", "gina", "gina", AT)
    with pytest.raises(InvalidInput):
        rules.transfer(s, "gina", "hank", "gina", AT)
    with pytest.raises(AlreadyDecided):
        rules.transfer(decided(s, "gina"), "gina", "erin", "gina", AT)


# --- return -----------------------------------------------------------------------------------


def test_return_targets() -> None:
    s = replace(stage(["ivy", "jack"], {"percent": 60}), step="committee", return_to=["legal", "eu-privacy",
                                                                                      "requester"])
    assert rules.check_return(s, "ivy", "legal", ["legal"]) == "Approval.Returned.legal"
    assert rules.check_return(s, "ivy", "requester", []) == "Approval.Returned.requester"
    with pytest.raises(NotReturnable):  # eu-privacy did not run in this approval
        rules.check_return(s, "ivy", "eu-privacy", ["legal"])
    with pytest.raises(InvalidInput) as bad:
        rules.check_return(s, "ivy", "sign-contract", ["legal"])
    assert bad.value.details[0]["field"] == "to_step"
    with pytest.raises(ActionNotAllowed):
        rules.check_return(replace(s, allow=["transfer"]), "ivy", "legal", ["legal"])
    with pytest.raises(NotAllowed):
        rules.check_return(s, "mallory", "legal", ["legal"])
