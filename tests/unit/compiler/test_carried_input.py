"""The input fields a machine carries (the manifest's `carried_fields`, what the functions put in
the execution input) are exactly the fields its compiled states read: none missing (a Choice rule
or an action would find nothing), none more (the state would carry what nobody reads)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from approvals.contract.manifest import read_manifest
from dsl_compiler import compile_file, compile_text
from tests.conftest import FLOWS, ROOT

ALL_FLOWS = [*FLOWS, *sorted((ROOT / "tests" / "integration" / "flows").glob("*.yaml"))]
FIELD = re.compile(r'"\$\.input\.([A-Za-z0-9_]+)')


def read_by_states(definition: dict[str, object]) -> set[str]:
    return set(FIELD.findall(json.dumps(definition)))


@pytest.mark.parametrize("flow", ALL_FLOWS, ids=[p.stem for p in ALL_FLOWS])
def test_the_carried_fields_are_those_the_states_read(flow: Path) -> None:
    compiled = compile_file(flow)
    carried = read_manifest(compiled.manifest).carried_fields
    read = read_by_states(compiled.definition)
    if carried is None:  # an action takes the whole input
        assert '"input.$": "$.input"' in json.dumps(compiled.definition["States"])
    else:
        assert set(carried) == read, flow.name


def test_example_flows_carry_what_their_conditions_and_actions_read() -> None:
    found = {path.stem: read_manifest(compile_file(path).manifest).carried_fields for path in FLOWS}
    assert found["leave-request"] == ("days",)  # not the reason nor the start date
    assert set(found["access-request"] or ()) == {"system", "role", "hours"}
    assert set(found["expense-claim"] or ()) == {"category", "total"}
    assert found["purchase-order"] is None  # NotifyVendor takes the whole input
    assert found["contract-review"] is None  # so does SignContract


def test_a_wait_until_field_and_the_requester_in_a_condition() -> None:
    text = """
flow: hold
version: 1
input:
  effective: {type: string, required: true}
  note: {type: string}
steps:
  - id: boss
    type: approval
    when: requester == "ann" || has(note)
    approvers: {users: [bob]}
    timeout: none
  - {id: hold, type: wait, until: $.effective}
"""
    manifest = read_manifest(compile_text(text).manifest)
    assert set(manifest.carried_fields or ()) == {"effective", "note"}  # `requester` is the run's, not the input's
    assert manifest.carried_input({"effective": "2027-01-01T00:00:00Z", "other": "x" * 10}) == {
        "effective": "2027-01-01T00:00:00Z"}
