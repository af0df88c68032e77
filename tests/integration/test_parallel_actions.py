"""An action inside a parallel branch: its result lives in the branch's own state, of which the
Parallel keeps the actions under `parallel.<key>.actions[i]`; the run's end still reports the
action's status, and a failure there names the action, not the parallel. A large input is not
copied once per branch.
The flow is tests/integration/flows/parallel-actions.yaml (its expected runs are at its top)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from local.client import ApiError, Client, step_statuses
from local.deployed import DeployedStack

FailingAction = Callable[[str], AbstractContextManager[None]]

FLOW = "parallel-actions"


def run(api: Client, final: str) -> dict[str, object]:
    approval_id = api.start(FLOW, {"system": "billing-db"}, "ann")["id"]
    api.wait_for_step_open(approval_id, "legal")
    api.decide(approval_id, "legal", "dave")
    api.wait_for_step_open(approval_id, "final")
    api.decide(approval_id, "final", "bob", final)
    return api.wait_for_status(approval_id, "approved" if final == "approve" else "rejected")


def test_the_action_in_a_branch_succeeded_and_says_so(api: Client, stack: DeployedStack) -> None:
    approval = run(api, "approve")
    assert step_statuses(approval) == {"legal": "approved", "grant": "succeeded", "final": "approved"}
    # The result is where the contract says: in the branch's state, not at the top.
    output = json.loads(stack.describe(str(approval["id"]))["output"])
    assert "grant" not in output.get("actions", {})
    kept = output["parallel"]["prepare"]
    assert kept["actions"][1]["grant"]["value"]["action"] == "GrantAccess"
    assert set(kept) == {"actions", "parallel"} and len(kept["actions"]) == 2  # not each branch's whole state


def test_a_purchase_order_with_a_60_kb_vendor_runs_to_its_outcome(api: Client, stack: DeployedStack) -> None:
    """Each branch used to return its whole state: a copy of the input per branch, and with a 100 kB
    vendor the Parallel's result over Step Functions' 256 KiB (States.DataLimitExceeded), the
    approval left running. (NotifyVendor takes the whole input, so all of it is carried: at most
    64 KiB, test_large_inputs.py.)"""
    vendor = "Acme " + "x" * 60_000
    approval_id = api.start("purchase-order", {"amount": 500, "vendor": vendor, "cost_center": "CC-100"}, "ann")["id"]
    for step, user in (("managers", "bob"), ("managers", "carol"), ("legal", "gina")):
        api.wait_for_step_open(approval_id, step)
        api.decide(approval_id, step, user)
    approval = api.wait_for_status(approval_id, "approved", timeout=60)
    assert approval["input"]["vendor"] == vendor
    output = json.loads(stack.describe(approval_id)["output"])
    assert len(json.dumps(output)) < 2 * len(vendor)  # the input once, not once per branch


def test_a_100_kb_vendor_is_refused_before_anything_runs(api: Client) -> None:
    with pytest.raises(ApiError) as refused:
        api.start("purchase-order", {"amount": 500, "vendor": "x" * 100_000, "cost_center": "CC-100"}, "ann")
    assert refused.value.status == 400
    assert [d["field"] for d in refused.value.body["error"]["details"]][0] == "vendor"


def test_a_later_rejection_leaves_the_action_succeeded(api: Client) -> None:
    approval = run(api, "reject")
    assert step_statuses(approval) == {"legal": "approved", "grant": "succeeded", "final": "rejected"}


def test_a_failed_action_in_a_branch_fails_the_run_and_is_named(api: Client, failing_action: FailingAction) -> None:
    with failing_action("GrantAccess"):
        approval_id = api.start(FLOW, {"system": "billing-db"}, "ann")["id"]
        approval = api.wait_for_status(approval_id, "failed", timeout=30)
    # The action's own status and error, not the parallel's; dave's open stage was cancelled.
    assert step_statuses(approval) == {"legal": "cancelled", "grant": "failed", "final": "skipped"}
    failed = [e["data"] for e in api.history(approval_id)["events"] if e["type"] == "Action Failed"]
    assert len(failed) == 1 and failed[0]["step"] == "grant"
    assert failed[0]["error"] == "ActionFailed" and "GrantAccess failed" in failed[0]["cause"]
