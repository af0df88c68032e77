"""Steps held by many people (tests/integration/flows/wide-steps.yaml and contended-steps.yaml,
their expected runs at their top):
a step of 1,000 approvers opens and settles, and 20 approvers deciding at the same moment on
`all`, `quorum`, `percent` and `any` steps: every decision answered 200 is recorded, the step
settles exactly once, none is left open, and 409 means only that the step really closed.

Before decisions were counted on their stage (store.py, "vote"), a 1,000-approver step could not
open (its inbox entries exceeded a transaction's 100 items) and concurrent deciders raced on the
approval's one revision until they were refused with "kept changing"."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.client import ApiError, Client, latest
from local.stack import MotoStack

TENANT = "wide"
CROWD = [f"u{i:04d}" for i in range(1000)]
# Deciders at once on the local stack, where a decision costs ~0.3 s of moto; the use-case test
# (tests/unit/usecases/test_contention.py) and bench/contention.py take 100.
TWENTY = CROWD[:20]
DIRECTORY: dict[str, Any] = {
    "tenant": TENANT,
    "users": [{"id": "req", "department": "ops", "manager": None, "roles": []}]
    + [{"id": u, "department": "ops", "manager": "req", "roles": ["crowd", "twenty"] if u in TWENTY else ["crowd"]}
       for u in CROWD],
    "departments": [{"id": "ops", "head": "req"}],
}


@pytest.fixture(scope="module")
def wide(api: Client, stack: MotoStack) -> Client:
    stack.store.put_directory(TENANT, DIRECTORY)
    client = Client(api.base_url, tenant=TENANT, timeout=120)
    for user in ["req", *TWENTY]:
        client.token(user)  # fetched before the deciders start together
    return client


def decide_together(client: Client, approval_id: str, step: str, users: list[str]) -> dict[str, int | str]:
    """Every one of `users` approves `step` at the same moment; user -> 200 or the refusal's code."""
    start = threading.Barrier(len(users))

    def one(user: str) -> tuple[str, int | str]:
        start.wait()
        try:
            client.decide(approval_id, step, user)
        except ApiError as refused:
            assert refused.status == 409, f"{user}: {refused}"
            return user, refused.message
        return user, 200

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        return dict(pool.map(one, users))


def settled_once(stack: MotoStack, approval_id: str, step: str) -> None:
    audit = [e for e in stack.audit(approval_id, TENANT) if e["type"] == "Step Settled" and e["data"]["step"] == step]
    assert len(audit) == 1, audit


def test_a_step_of_a_thousand_opens_and_settles(wide: Client, stack: MotoStack) -> None:
    approval_id = wide.start("wide-steps", {}, "req")["id"]
    crowd = wide.wait_for_step_open(approval_id, "crowd", timeout=60)
    assert len(crowd["assignees"]) == 1000
    # entries past the first 100 too (written after the step opened, by the same invocation)
    wide.wait_for_inbox("u0999", approval_id, "crowd", timeout=30)
    wide.decide(approval_id, "crowd", "u0500")
    done = wide.wait_for_status(approval_id, "approved", timeout=60)
    assert [d["user"] for d in latest(done, "crowd")["decisions"]] == ["u0500"]
    settled_once(stack, approval_id, "crowd")
    assert not any(e["approval_id"] == approval_id for e in wide.inbox("u0999"))


def test_twenty_deciding_at_once_on_all_quorum_percent_and_any(wide: Client, stack: MotoStack) -> None:
    approval_id = wide.start("contended-steps", {}, "req")["id"]
    # step, how many approvals settle it (all approve).
    for step, needed in (("everyone", 20), ("half", 10), ("most", 12), ("first", 1)):
        wide.wait_for_step_open(approval_id, step, timeout=60)
        answers = decide_together(wide, approval_id, step, TWENTY)
        accepted = sorted(u for u, a in answers.items() if a == 200)
        refused = Counter(a for a in answers.values() if a != 200)
        stage = latest(wide.approval(approval_id, "req"), step)
        assert stage["status"] == "approved"
        assert len(accepted) == needed, (step, len(accepted), refused)
        assert sorted(d["user"] for d in stage["decisions"]) == accepted  # every 200 recorded, nothing else
        assert all(" is not open" in why for why in refused), refused  # refused only because the step had closed
        settled_once(stack, approval_id, step)

    done = wide.wait_for_status(approval_id, "approved", timeout=60)
    assert {s["status"] for s in done["steps"]} == {"approved"}
