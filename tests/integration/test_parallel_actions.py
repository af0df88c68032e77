"""An action inside a parallel branch: its result lives in the branch's own state, which the
Parallel keeps under `parallel.<key>[i]`; the run's end still reports the action's status, and
a failure there names the action, not the parallel.
The flow is tests/integration/flows/parallel-actions.yaml (its expected runs are at its top)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager

from local.client import Client, step_statuses
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
    assert output["parallel"]["prepare"][1]["actions"]["grant"]["value"]["action"] == "GrantAccess"


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
