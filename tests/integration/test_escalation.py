"""A timeout that escalates, end to end and fast (tests/integration/flows/quick-escalation.yaml):
the new stage, its machine stage, the audit trail and the events on the bus. The example flows'
escalations take 48 s here and are checked through the API in test_expected_runs.py."""

from __future__ import annotations

from local.client import Client, stages
from local.stack import MotoStack


def test_a_timed_out_stage_escalates_and_the_bus_is_told(api: Client, stack: MotoStack) -> None:
    approval_id = api.start("quick-escalation", {}, "ann")["id"]
    escalated = api.wait_for_step_open(approval_id, "first", stage=1)
    assert escalated["assignees"] == ["carol"]
    api.decide(approval_id, "first", "carol")
    approval = api.wait_for_status(approval_id, "approved")
    assert [(s["status"], s["assignees"]) for s in stages(approval, "first")] == [
        ("escalated", ["bob"]), ("approved", ["carol"])]
    assert [s.machine_stage for s in stack.approval(approval_id).steps] == [0, 1]
    audit = [e["type"] for e in stack.audit(approval_id)]
    assert audit.index("Step Escalated") < audit.index("Decision Recorded")
    bus = [(e["detail-type"], e["detail"].get("stage")) for e in stack.events(approval_id)
           if e["detail-type"] in ("Step Opened", "Step Escalated")]
    assert bus == [("Step Opened", 0), ("Step Escalated", 0), ("Step Opened", 1)]


def test_an_escalation_nobody_answers_is_rejected(api: Client) -> None:
    approval_id = api.start("quick-escalation", {}, "ann")["id"]
    approval = api.wait_for_status(approval_id, "rejected", timeout=20)
    assert [s["status"] for s in stages(approval, "first")] == ["escalated", "timed_out"]
