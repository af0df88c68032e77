"""commands.start: the approval is written, its execution started once (named by the id), `Approval Started` put."""

from __future__ import annotations

import pytest

from approvals.commands.start import start_approval
from approvals.domain import ApprovalExists, ApprovalStatus, InvalidInput, UnknownFlow, UnknownUser
from approvals.queries.flows import list_flows
from tests.fakes import MemoryRuntime

from .machine import TENANT

LEAVE = {"days": 2, "start_date": "2026-12-10", "reason": "family"}


def test_start_writes_the_approval_starts_its_execution_once_and_tells_the_bus(rt: MemoryRuntime) -> None:
    approval_id = start_approval(TENANT, "leave-request", None, "ann", LEAVE, approval_id="req-1", rt=rt)

    assert approval_id == "req-1"
    approval = rt.store.load(TENANT, approval_id)
    assert (approval.status, approval.revision, approval.flow_version) == (ApprovalStatus.RUNNING, 1, 1)
    assert approval.input == LEAVE and approval.requester == "ann"
    assert not approval.start_pending and rt.store.pending_starts("2100") == []  # the start was confirmed
    (execution,) = rt.sfn.executions.values()
    assert (execution.state_machine, execution.name) == ("leave-request-v1", "req-1")
    # Only what the machine reads of the input (its conditions read `days`); the rest is in the table.
    assert execution.payload == {"approval_id": "req-1", "tenant": TENANT, "flow": "leave-request",
                                 "flow_version": 1, "requester": "ann", "input": {"days": LEAVE["days"]},
                                 "actions": {}, "failures": {}, "compensation_failures": {}, "parallel": {},
                                 "error": None}
    assert rt.events.types == ["Approval Started"]
    assert rt.events.of("Approval Started") == [{"tenant": TENANT, "approval_id": "req-1", "flow": "leave-request",
                                                 "flow_version": 1, "step": None, "requester": "ann"}]
    (event,) = rt.store.history(TENANT, approval_id)
    assert (event["type"], event["actor"], event["data"]) == (
        "Approval Started", "ann", {"flow": "leave-request", "flow_version": 1, "input": LEAVE})


def test_a_repeated_start_with_the_same_id_is_refused_and_starts_nothing(rt: MemoryRuntime) -> None:
    start_approval(TENANT, "leave-request", None, "ann", LEAVE, approval_id="req-1", rt=rt)
    with pytest.raises(ApprovalExists):
        start_approval(TENANT, "leave-request", None, "ann", LEAVE, approval_id="req-1", rt=rt)
    assert rt.sfn.start_calls == [("leave-request-v1", "req-1")]
    assert rt.events.types == ["Approval Started"]
    assert rt.store.load(TENANT, "req-1").revision == 1


def test_defaults_are_filled_in_and_the_latest_version_is_started(rt: MemoryRuntime) -> None:
    data = {"amount": 500, "vendor": "Initech", "cost_center": "cc-1"}
    approval_id = start_approval(TENANT, "purchase-order", None, "ann", data, rt=rt)
    approval = rt.store.load(TENANT, approval_id)
    assert approval.flow_version == 3
    assert approval.input == {**data, "currency": "USD", "new_vendor": False, "urgent": False}
    assert rt.sfn.execution(approval_id).state_machine == "purchase-order-v3"


def test_invalid_input_is_refused_with_every_problem_and_nothing_is_written(rt: MemoryRuntime) -> None:
    with pytest.raises(InvalidInput) as refused:
        start_approval(TENANT, "leave-request", None, "ann", {"days": 100, "colour": "red"}, approval_id="x", rt=rt)
    fields = {d["field"] for d in refused.value.details}
    assert {"days", "start_date", "colour"} <= fields
    assert rt.store.items_of(TENANT, "x") == [] and rt.sfn.start_calls == [] and rt.events.events == []


def test_unknown_flow_requester_and_picked_approver(rt: MemoryRuntime) -> None:
    with pytest.raises(UnknownFlow):
        start_approval(TENANT, "no-such-flow", None, "ann", {}, rt=rt)
    with pytest.raises(UnknownFlow):
        start_approval(TENANT, "leave-request", 9, "ann", LEAVE, rt=rt)
    with pytest.raises(UnknownUser) as stranger:
        start_approval(TENANT, "leave-request", None, "zed", LEAVE, rt=rt)
    assert stranger.value.field == "requester"
    claim = {"total": 12.5, "category": "meals", "reviewer": "nobody"}
    with pytest.raises(UnknownUser) as picked:
        start_approval(TENANT, "expense-claim", None, "ann", claim, rt=rt)
    assert picked.value.details == [{"field": "reviewer", "problem": "user 'nobody' is not in the directory"}]
    with pytest.raises(UnknownUser):  # a tenant without a directory knows nobody
        start_approval("globex", "leave-request", None, "ann", LEAVE, rt=rt)
    assert rt.sfn.start_calls == []


def test_the_flows_one_may_start_are_the_latest_of_the_catalog() -> None:
    flows = {f["flow"]: f["version"] for f in list_flows(TENANT)}
    assert flows == {"access-request": 1, "contract-review": 1, "expense-claim": 2, "leave-request": 1,
                     "purchase-order": 3}
