"""Every example flow runs to its outcome with the largest input the API accepts.

A state holds at most 256 KiB (the local stack refuses more, as AWS does: local/moto_limits.py),
and so does a request body. The machine carries only the input fields its conditions, waits and
actions read (the manifest's `carried_fields`); the rest stays in the table. So the largest input
is a body of 256 KiB when the large field is one no step reads, and carried fields of 64 KiB
(`CARRIED_INPUT_MAX_BYTES`) when every field is read (an action given the whole input): one byte
more is refused, 413 or 400 naming the field, before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from approvals.api.body import MAX_BODY_BYTES
from approvals.contract.manifest import CARRIED_INPUT_MAX_BYTES, compact_size, read_manifest
from local.client import Client
from tests.conftest import ROOT

PAD = "x"


@dataclass(frozen=True)
class Run:
    flow: str
    version: int
    input: dict[str, Any]
    padded: str  # the field made as large as the API takes
    decisions: tuple[tuple[str, tuple[str, ...]], ...]  # (step, who approves it, in turn)

    def carried(self, data: dict[str, Any]) -> dict[str, Any]:
        path = ROOT / "statemachines" / f"{self.flow}-v{self.version}.manifest.json"
        return read_manifest(json.loads(path.read_text(encoding="utf-8"))).carried_input(data)


RUNS = [
    Run("leave-request", 1, {"days": 1, "reason": "family", "start_date": ""}, "start_date",
        (("manager", ("bob",)), ("hr", ("ivy",)))),
    Run("expense-claim", 2, {"total": 120.5, "category": "meals", "reviewer": "dave", "receipts": [""]}, "receipts",
        (("peer-review", ("dave",)), ("department", ("carol",)))),
    Run("purchase-order", 3, {"amount": 500, "currency": "USD", "vendor": "", "new_vendor": False, "urgent": False,
                              "cost_center": "CC-100"}, "vendor",
        (("managers", ("bob", "carol")), ("legal", ("gina",)))),
    Run("contract-review", 1, {"counterparty": "", "value": 25000, "region": "US"}, "counterparty",
        (("legal", ("gina", "hank")), ("committee", ("ivy", "jack", "kate")))),
    Run("access-request", 1, {"system": "", "role": "read", "hours": 8}, "system",
        (("team-lead", ("bob",)), ("security", ("jack",)))),
]


def body(data: dict[str, Any]) -> bytes:
    return json.dumps({"input": data}).encode()  # as local/client.py sends it


def with_pad(run: Run, n: int) -> dict[str, Any]:
    value: Any = PAD * n
    return {**run.input, run.padded: [value] if isinstance(run.input[run.padded], list) else value}


def largest(run: Run) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
    """The largest input the API takes for `run`, and a check that one byte more is refused."""
    if run.padded in run.carried(run.input):
        n = CARRIED_INPUT_MAX_BYTES - compact_size(run.carried(with_pad(run, 0)))
        data = with_pad(run, n)
        assert compact_size(run.carried(data)) == CARRIED_INPUT_MAX_BYTES

        def refused(reply_of: dict[str, Any]) -> None:
            assert reply_of["status"] == 400, reply_of
            assert reply_of["body"]["error"]["code"] == "invalid_input"
            assert run.padded in [d["field"] for d in reply_of["body"]["error"]["details"]]
    else:
        n = MAX_BODY_BYTES - len(body(with_pad(run, 0)))
        data = with_pad(run, n)
        assert len(body(data)) == MAX_BODY_BYTES

        def refused(reply_of: dict[str, Any]) -> None:
            assert reply_of["status"] == 413, reply_of
    return data, refused


@pytest.mark.parametrize("run", RUNS, ids=[r.flow for r in RUNS])
def test_the_largest_input_the_api_takes_runs_to_its_outcome(api: Client, run: Run) -> None:
    data, refused = largest(run)
    path = f"/v1/flows/{run.flow}/approvals"
    token = api.token("ann")

    over = api.request("POST", path, body(with_pad(run, _pad_length(data, run) + 1)), token=token)
    refused({"status": over.status, "body": over.body})

    reply = api.request("POST", path, body(data), token=token)
    assert reply.status == 201, (reply.status, str(reply.body)[:300])
    approval_id = reply.body["id"]
    for step, users in run.decisions:
        for user in users:
            api.wait_for_step_open(approval_id, step, as_user="ann", timeout=30)
            api.decide(approval_id, step, user)
    approval = api.wait_for_status(approval_id, "approved", timeout=30, as_user="ann")
    assert approval["input"] == data  # all of it, from the table
    events = api.history(approval_id, as_user="ann")["events"]
    assert events[-1]["type"] == "Approval Completed" and events[-1]["data"]["outcome"] == "approved"


def _pad_length(data: dict[str, Any], run: Run) -> int:
    value = data[run.padded]
    return len(value[0] if isinstance(value, list) else value)
