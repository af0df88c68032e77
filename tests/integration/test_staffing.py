"""Stages the directory cannot fully staff: people it does not know are left out (and the
opening says so), and a stage whose rule those left cannot meet settles at once by
`if_no_approvers` instead of waiting for decisions that cannot come.
The flow is tests/integration/flows/staffing.yaml (its expected run is at its top)."""

from __future__ import annotations

from local.client import Client, latest, step_statuses


def test_unknown_people_are_left_out_and_a_quorum_nobody_can_reach_rejects_at_once(api: Client) -> None:
    approval_id = api.start("staffing", {}, "ann")["id"]
    pair = api.wait_for_step_open(approval_id, "pair")
    assert pair["assignees"] == ["dave"]
    api.decide(approval_id, "pair", "dave")
    approval = api.wait_for_status(approval_id, "rejected")
    assert step_statuses(approval) == {"pair": "approved", "board": "rejected"}
    assert latest(approval, "board")["decisions"] == []
    events = api.history(approval_id)["events"]
    opened = [e["data"] for e in events if e["type"] == "Step Opened"]
    assert opened[0]["not_in_directory"] == ["zed"] and "not_in_directory" not in opened[1]
    settled = [e["data"] for e in events if e["type"] == "Step Settled"]
    assert settled[-1] == {"step": "board", "stage": 0, "outcome": "rejected",
                           "reason": '2 approvers cannot meet mode {"quorum": 3}'}
