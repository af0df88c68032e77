"""What people do to an open step besides deciding: withdraw (撤回), transfer (转交), add signers (加签),
return (退回) to an earlier step or to the requester, and the requester's resubmission."""

from __future__ import annotations

import pytest

from approvals.commands.add_signers import add_signers
from approvals.commands.decide import decide
from approvals.commands.resubmit import resubmit
from approvals.commands.return_step import return_step
from approvals.commands.transfer import transfer
from approvals.commands.withdraw import withdraw
from approvals.domain import (
    ActionNotAllowed,
    ApprovalFinished,
    ApprovalStatus,
    InvalidInput,
    NotAllowed,
    NotRequester,
    NotReturnable,
    StepNotOpen,
    StepStatus,
    UnknownUser,
)
from approvals.queries.inbox import inbox
from tests.fakes import Completion, MemoryRuntime

from .machine import TENANT, Run, begin

LEAVE = {"days": 5, "start_date": "2026-12-10"}
CONTRACT = {"counterparty": "Globex", "value": 250000, "region": "US"}


def waiting(rt: MemoryRuntime, user: str) -> list[tuple[str, int]]:
    return [(e["step"], e["stage"]) for e in inbox(TENANT, user, rt=rt)]


def through_legal(rt: MemoryRuntime) -> Run:
    """A contract review whose legal step (gina, then hank) approved; the committee is next."""
    run = begin(rt, "contract-review", "ann", CONTRACT)
    legal = run.open("Legal approval")
    decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)
    decide(TENANT, run.id, "legal", "hank", "approve", rt=rt)
    assert run.resume("Legal approval", legal) == "Eu privacy needed?"  # US: the Choice goes to the committee
    return run


# --- withdraw ------------------------------------------------------------------------------------


def test_withdraw_cancels_the_open_stage_and_fails_its_token(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    token = run.open("Manager approval")
    with pytest.raises(NotRequester):
        withdraw(TENANT, run.id, "bob", rt=rt)

    approval = withdraw(TENANT, run.id, "ann", rt=rt)

    assert approval.status is ApprovalStatus.WITHDRAWN
    assert rt.sfn.completions == [Completion(token, False, error="Approval.Withdrawn", cause="manager cancelled")]
    assert run.resume("Manager approval", token) == "Withdrawn"
    assert rt.store.load(TENANT, run.id).steps[0].status is StepStatus.CANCELLED
    assert waiting(rt, "bob") == []
    (told,) = rt.events.of("Approval Withdrawn")
    assert (told["to"], told["steps"], told["requester"]) == (["bob"], ["manager"], "ann")
    with pytest.raises(ApprovalFinished):
        withdraw(TENANT, run.id, "ann", rt=rt)
    with pytest.raises(StepNotOpen):
        decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)

    result = run.finish("withdrawn")
    assert result["outcome"] == "withdrawn"
    assert rt.store.history(TENANT, run.id)[-1]["data"]["outcome"] == "withdrawn"


def test_a_step_that_opens_after_the_withdrawal_is_cancelled_as_it_opens(rt: MemoryRuntime) -> None:
    run = begin(rt, "leave-request", "ann", LEAVE)
    manager = run.open("Manager approval")
    decide(TENANT, run.id, "manager", "bob", "approve", rt=rt)
    run.resume("Manager approval", manager)
    withdraw(TENANT, run.id, "ann", rt=rt)  # between two steps: nothing open
    assert rt.events.of("Approval Withdrawn")[0]["to"] == []

    director = run.open("Director approval")

    assert run.opened[-1]["status"] == "cancelled"
    assert [c.error for c in rt.sfn.completions_of(director)] == ["Approval.Withdrawn"]
    assert run.resume("Director approval", director) == "Withdrawn"
    assert waiting(rt, "carol") == [] and rt.events.of("Step Opened")[-1]["step"] == "manager"


# --- transfer ------------------------------------------------------------------------------------


def test_transfer_hands_the_place_on_the_stage_to_someone_else(rt: MemoryRuntime) -> None:
    run = begin(rt, "contract-review", "ann", CONTRACT)
    token = run.open("Legal approval")  # sequential: gina, then hank
    assert waiting(rt, "gina") == [("legal", 0)]

    transfer(TENANT, run.id, "legal", "gina", "gc", rt=rt)

    assert waiting(rt, "gina") == [] and waiting(rt, "gc") == [("legal", 0)]
    legal = rt.store.load(TENANT, run.id).steps[0]
    assert legal.assignees == ["gc", "hank"]
    assert [t.to_dict() for t in legal.transfers] == [{"from": "gina", "to": "gc", "actor": "gina",
                                                       "at": "2026-12-01T09:00:00.000Z"}]
    recorded = rt.store.history(TENANT, run.id)[-1]
    assert (recorded["type"], recorded["data"]["from"], recorded["data"]["to"]) == ("Step Transferred", "gina", "gc")
    assert rt.events.of("Step Transferred")[0]["to"] == ["gc"]
    with pytest.raises(NotAllowed):  # gina handed her place on
        decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)

    decide(TENANT, run.id, "legal", "gc", "approve", rt=rt)
    assert waiting(rt, "hank") == [("legal", 0)] and rt.sfn.completions == []
    decide(TENANT, run.id, "legal", "hank", "approve", rt=rt)
    assert [c.succeeded for c in rt.sfn.completions_of(token)] == [True]


def test_transfer_refusals(rt: MemoryRuntime) -> None:
    run = begin(rt, "contract-review", "ann", CONTRACT)
    run.open("Legal approval")
    with pytest.raises(UnknownUser):
        transfer(TENANT, run.id, "legal", "gina", "zed", rt=rt)
    with pytest.raises(InvalidInput):
        transfer(TENANT, run.id, "legal", "gina", "hank", rt=rt)  # already on the stage
    with pytest.raises(NotAllowed):
        transfer(TENANT, run.id, "legal", "hank", "gc", rt=rt)  # not hank's turn yet
    leave = begin(rt, "leave-request", "ann", LEAVE)
    leave.open("Manager approval")
    with pytest.raises(ActionNotAllowed):  # the manager step allows nothing
        transfer(TENANT, leave.id, "manager", "bob", "carol", rt=rt)


# --- add signers ---------------------------------------------------------------------------------


def test_a_signer_added_before_decides_first_then_the_one_who_added(rt: MemoryRuntime) -> None:
    run = begin(rt, "contract-review", "ann", CONTRACT)
    token = run.open("Legal approval")

    add_signers(TENANT, run.id, "legal", "gina", ["dpo"], "before", rt=rt)

    assert waiting(rt, "dpo") == [("legal", 0)] and waiting(rt, "gina") == []
    assert rt.events.of("Signers Added")[0]["to"] == ["dpo"]
    with pytest.raises(NotAllowed):
        decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)
    decide(TENANT, run.id, "legal", "dpo", "approve", rt=rt)
    assert waiting(rt, "gina") == [("legal", 0)] and waiting(rt, "dpo") == []
    decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)
    assert waiting(rt, "hank") == [("legal", 0)] and rt.sfn.completions == []
    decide(TENANT, run.id, "legal", "hank", "approve", rt=rt)
    assert rt.sfn.completions == [Completion(token, True, output={"step": "legal", "outcome": "approved"})]


def test_an_adders_say_counts_once_the_signer_added_after_approved(rt: MemoryRuntime) -> None:
    run = through_legal(rt)
    token = run.open("Committee approval")  # percent 60 of 5: three approvals
    add_signers(TENANT, run.id, "committee", "jack", ["ciso"], "after", rt=rt)
    assert waiting(rt, "ciso") == []  # after: once jack approved
    decide(TENANT, run.id, "committee", "jack", "approve", rt=rt)
    assert waiting(rt, "ciso") == [("committee", 0)]
    for member in ("gina", "hank"):
        decide(TENANT, run.id, "committee", member, "approve", rt=rt)
    assert rt.sfn.completions_of(token) == []  # jack's say counts only once ciso approved too
    decide(TENANT, run.id, "committee", "ciso", "approve", rt=rt)
    assert [c.succeeded for c in rt.sfn.completions_of(token)] == [True]


def test_add_signer_refusals(rt: MemoryRuntime) -> None:
    run = begin(rt, "contract-review", "ann", CONTRACT)
    run.open("Legal approval")
    with pytest.raises(InvalidInput):
        add_signers(TENANT, run.id, "legal", "gina", ["hank"], "before", rt=rt)  # already on it
    with pytest.raises(InvalidInput):
        add_signers(TENANT, run.id, "legal", "gina", ["dpo"], "sideways", rt=rt)
    with pytest.raises(UnknownUser):
        add_signers(TENANT, run.id, "legal", "gina", ["dpo", "zed"], "parallel", rt=rt)
    leave = begin(rt, "leave-request", "ann", LEAVE)
    leave.open("Manager approval")
    with pytest.raises(ActionNotAllowed):
        add_signers(TENANT, leave.id, "manager", "bob", ["carol"], "after", rt=rt)
    assert rt.events.of("Signers Added") == []


# --- return --------------------------------------------------------------------------------------


def test_return_to_an_earlier_step_reopens_it_with_its_approvers(rt: MemoryRuntime) -> None:
    run = through_legal(rt)
    committee = run.open("Committee approval")
    with pytest.raises(NotReturnable):
        return_step(TENANT, run.id, "committee", "jack", "eu-privacy", rt=rt)  # never ran (US)
    with pytest.raises(InvalidInput):
        return_step(TENANT, run.id, "committee", "jack", "sign-contract", rt=rt)  # not in return_to
    rt.clock.advance(hours=1)

    return_step(TENANT, run.id, "committee", "jack", "legal", rt=rt)

    assert rt.sfn.completions_of(committee) == [Completion(committee, False, error="Approval.Returned.legal",
                                                           cause="committee returned")]
    assert run.resume("Committee approval", committee) == "Legal approval"
    assert [e for m in ("gina", "jack", "kate") for e in waiting(rt, m)] == []
    assert rt.events.of("Step Returned")[0]["to_step"] == "legal"

    again = run.open("Legal approval")

    assert run.opened[-1] == {"step": "legal", "stage": 1, "status": "open", "assignees": ["gina", "hank"]}
    assert waiting(rt, "gina") == [("legal", 1)]
    statuses = {(s.step, s.stage): s.status for s in rt.store.load(TENANT, run.id).steps}
    assert statuses == {("legal", 0): StepStatus.APPROVED, ("committee", 0): StepStatus.RETURNED,
                        ("legal", 1): StepStatus.OPEN}
    with pytest.raises(ActionNotAllowed):  # legal does not allow return
        return_step(TENANT, run.id, "legal", "gina", "requester", rt=rt)
    decide(TENANT, run.id, "legal", "gina", "approve", rt=rt)
    decide(TENANT, run.id, "legal", "hank", "approve", rt=rt)
    assert [c.succeeded for c in rt.sfn.completions_of(again)] == [True]


def test_return_to_the_requester_then_resubmit_with_a_new_input(rt: MemoryRuntime) -> None:
    run = through_legal(rt)
    committee = run.open("Committee approval")
    return_step(TENANT, run.id, "committee", "kate", "requester", rt=rt)
    assert run.resume("Committee approval", committee) == "Wait for resubmission"
    token = run.open("Wait for resubmission")
    assert run.opened[-1]["assignees"] == ["ann"]
    assert waiting(rt, "ann") == [("@requester", 0)]
    with pytest.raises(NotRequester):
        resubmit(TENANT, run.id, "gina", CONTRACT, rt=rt)
    with pytest.raises(InvalidInput):
        resubmit(TENANT, run.id, "ann", {"counterparty": "Globex", "value": "a lot", "region": "US"}, rt=rt)
    corrected = {**CONTRACT, "value": 180000}

    approval = resubmit(TENANT, run.id, "ann", corrected, rt=rt)

    assert approval.input == corrected and rt.store.load(TENANT, run.id).input == corrected
    assert rt.sfn.completions_of(token) == [Completion(token, True, output=corrected)]
    assert run.resume("Wait for resubmission", token) == "Legal approval"
    assert run.state["input"] == corrected  # the machine runs on with the new input (all of it: SignContract takes it)
    assert waiting(rt, "ann") == []
    with pytest.raises(StepNotOpen):
        resubmit(TENANT, run.id, "ann", corrected, rt=rt)
