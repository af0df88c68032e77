"""machine.notify (a `notify` step) and what finish makes of the actions' results and failures."""

from __future__ import annotations

from approvals.commands.decide import decide
from approvals.domain import ApprovalStatus, StepStatus
from tests.fakes import MemoryRuntime

from .machine import TENANT, Run, begin

ACCESS = {"system": "billing-db", "role": "read", "hours": 4}


def through_security(rt: MemoryRuntime) -> Run:
    run = begin(rt, "access-request", "ann", ACCESS)
    lead = run.open("Team lead approval")
    decide(TENANT, run.id, "team-lead", "bob", "approve", rt=rt)
    assert run.resume("Team lead approval", lead) == "Security approval"
    security = run.open("Security approval")
    assert run.opened[-1]["assignees"] == ["jack", "kate", "dave"]  # security, then sre-lead
    decide(TENANT, run.id, "security", "dave", "approve", rt=rt)
    assert run.resume("Security approval", security) == "Ciso needed?"  # read for 4h: no CISO
    return run


def test_an_action_that_ran_and_a_notify_step_are_recorded(rt: MemoryRuntime) -> None:
    run = through_security(rt)
    assert run.action("Grant access", {"grant": "g-1"}) == "Tell requester"

    assert run.notify("Tell requester") == "Approved"

    (told,) = rt.events.of("Notification Requested")
    assert (told["step"], told["to"], told["message"], told["requester"]) == (
        "tell-requester", ["ann"], "Access granted", "ann")
    run.finish("approved")
    approval = rt.store.load(TENANT, run.id)
    assert approval.status is ApprovalStatus.APPROVED
    assert {s.step: s.status for s in approval.steps} == {
        "team-lead": StepStatus.APPROVED, "security": StepStatus.APPROVED, "ciso": StepStatus.SKIPPED,
        "grant-access": StepStatus.SUCCEEDED, "tell-requester": StepStatus.SUCCEEDED}


def test_a_retried_notify_invoke_tells_once(rt: MemoryRuntime) -> None:
    """Lambda ran the handler, then the Task retried (a crash reported as Lambda.Unknown): the same
    state entry, so one notify stage and one `Notification Requested`."""
    run = through_security(rt)
    run.action("Grant access", {"grant": "g-1"})
    run.notify("Tell requester")
    run.notify("Tell requester")

    assert len(rt.events.of("Notification Requested")) == 1
    approval = rt.store.load(TENANT, run.id)
    assert [s.stage for s in approval.steps if s.step == "tell-requester"] == [0]


def test_a_failed_action_fails_the_approval_and_tells_the_requester(rt: MemoryRuntime) -> None:
    run = through_security(rt)
    assert run.action("Grant access", error="GrantError") == "Failed"

    assert run.finish("failed")["outcome"] == "failed"

    approval = rt.store.load(TENANT, run.id)
    assert approval.status is ApprovalStatus.FAILED
    steps = {s.step: s.status for s in approval.steps}
    assert (steps["grant-access"], steps["tell-requester"]) == (StepStatus.FAILED, StepStatus.SKIPPED)
    (failed,) = rt.events.of("Action Failed")
    assert (failed["step"], failed["error"], failed["to"]) == ("grant-access", "GrantError", ["ann"])
    (completed,) = rt.events.of("Approval Completed")
    assert (completed["outcome"], completed["cc"]) == ("failed", ["ann"])
