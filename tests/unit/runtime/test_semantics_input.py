"""A request's input against its flow (approvals.domain.validation) and the flow catalog (approvals.catalog)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from approvals import catalog
from approvals.domain import InvalidInput, UnknownFlow, validate_input
from dsl_compiler import compile_text

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["days", "start_date", "hours"],
    "properties": {
        "days": {"type": "number", "minimum": 0.5, "maximum": 60},
        "hours": {"type": "integer"},
        "reason": {"type": "string", "maxLength": 5},
        "start_date": {"type": "string"},
        "currency": {"type": "string", "default": "USD", "enum": ["USD", "EUR"]},
        "urgent": {"type": "boolean", "default": False},
        "receipts": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "effective": {"type": "string", "format": "date-time"},  # the compiler's mark on a wait's `until` field
    },
}
GOOD = {"days": 1, "start_date": "2026-12-01", "hours": 8}


def problems(data: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as error:
        validate_input(SCHEMA, data)
    return {d["field"]: d["problem"] for d in error.value.details}


def test_defaults_are_filled_in() -> None:
    assert validate_input(SCHEMA, GOOD) == {**GOOD, "currency": "USD", "urgent": False}
    assert validate_input(SCHEMA, {**GOOD, "currency": "EUR"})["currency"] == "EUR"
    assert validate_input(SCHEMA, {**GOOD, "currency": None})["currency"] == "USD"  # null optional = absent


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"color": "red"}, "color", "is not a field of this flow"),
        ({"days": "two"}, "days", "must be a number"),
        ({"days": True}, "days", "must be a number"),
        ({"days": 0.1}, "days", "must be at least 0.5"),
        ({"days": 61}, "days", "must be at most 60"),
        ({"hours": 1.5}, "hours", "must be an integer"),
        ({"reason": "too long"}, "reason", "must be at most 5 characters"),
        ({"currency": "GBP"}, "currency", "must be one of 'USD', 'EUR'"),
        ({"urgent": "yes"}, "urgent", "must be true or false"),
        ({"receipts": "r1.pdf"}, "receipts", "must be a list"),
        ({"receipts": ["r1.pdf", 3]}, "receipts[1]", "must be a string"),
        ({"receipts": ["r1.pdf", "r2.pdf", "r3.pdf"]}, "receipts", "must have at most 2 items"),
        ({"effective": "2026-12-01"}, "effective", "must be an ISO 8601 timestamp with a time zone, like "
                                                   "2026-12-01T09:00:00Z"),
        ({"effective": 20261201}, "effective", "must be a string"),
        ({"start_date": None}, "start_date", "must be a string"),
    ],
)
def test_each_problem_is_named(change: dict[str, Any], field: str, problem: str) -> None:
    assert problems({**GOOD, **change}) == {field: problem}


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"days": 99, "color": 1})
    assert found == {"days": "must be at most 60", "color": "is not a field of this flow",
                     "start_date": "is required", "hours": "is required"}
    assert problems([1, 2]) == {"input": "must be an object"}


def test_a_list_may_have_as_many_items_as_max_items() -> None:
    assert validate_input(SCHEMA, {**GOOD, "receipts": ["r1.pdf", "r2.pdf"]})["receipts"] == ["r1.pdf", "r2.pdf"]
    schema = {"type": "object", "properties": {"one": {"type": "array", "maxItems": 1}}}
    with pytest.raises(InvalidInput) as error:
        validate_input(schema, {"one": [1, 2]})
    assert error.value.details == [{"field": "one", "problem": "must have at most 1 item"}]


@pytest.mark.parametrize(
    "stamp", ["2026-12-01T09:00:00Z", "2026-12-01T09:00:00+02:00", "2026-12-01T09:00:00.250-05:30"]
)
def test_a_wait_timestamp_with_a_zone_is_accepted(stamp: str) -> None:
    assert validate_input(SCHEMA, {**GOOD, "effective": stamp})["effective"] == stamp


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-12-01T09:00:00",  # no zone: Step Functions would not know which 09:00
        "2026-12-01 09:00:00Z",  # a space for the T
        "2026-12-01t09:00:00z",  # lower case
        "20261201T090000Z",  # ISO 8601 basic format: Python reads it, Step Functions does not
        "2026-12-01T09:00Z",  # no seconds
        "2026-13-01T09:00:00Z",  # no such month
        "2026-12-01T09:00:00+25:00",
        "next monday",
        "",
    ],
)
def test_a_wait_timestamp_step_functions_would_refuse_is_refused(stamp: str) -> None:
    found = problems({**GOOD, "effective": stamp})
    assert found == {"effective": "must be an ISO 8601 timestamp with a time zone, like 2026-12-01T09:00:00Z"}


def test_integral_floats_are_integers() -> None:
    assert validate_input(SCHEMA, {**GOOD, "hours": 8.0})["hours"] == 8.0


# --- catalog ------------------------------------------------------------------------------------


@pytest.fixture
def own_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Compiled as `make compile` would: the catalog reads the compiled steps, never the source.
    for version, title in ((1, "Trip"), (2, "Trip, again")):
        source = "\n".join([
            "flow: trip", f"version: {version}", f"title: {title}", "input:",
            "  buddy: {type: string, required: true}", "  watchers: {type: array, items: {type: string}}",
            "steps:", "  - id: pick", "    type: approval", "    approvers: [{from_input: buddy}]", "    timeout: none",
            "  - id: rest", "    type: wait", "    duration: 1h",
            "  - id: book", "    type: action", "    function: Book", "    compensate: Unbook",
            "cc: [{from_input: watchers}]", ""])
        compiled = compile_text(source, f"trip-v{version}.yaml")
        (tmp_path / compiled.manifest_file).write_text(compiled.manifest_json())
    monkeypatch.setenv(catalog.CATALOG_ENV, str(tmp_path))
    yield tmp_path
    catalog.reload()


def test_catalog_override_and_versions(own_catalog: Path) -> None:
    assert catalog.list_flows() == [{"flow": "trip", "version": 2, "title": "Trip, again"}]
    assert catalog.get("trip").version == 2 and catalog.get("trip", 1).title == "Trip"
    with pytest.raises(UnknownFlow):
        catalog.get("trip", 3)
    with pytest.raises(UnknownFlow):
        catalog.get("cruise")
    entry = catalog.get("trip")
    assert entry.from_input_fields == ("buddy", "watchers")
    assert entry.step_info["rest"].type == "wait" and entry.step_info["rest"].followers == ("book",)
    assert entry.step_info["book"].compensate == "Unbook"


def test_the_shipped_catalog_has_every_example_flow() -> None:
    catalog.reload()
    flows = {f["flow"]: f["version"] for f in catalog.list_flows()}
    assert flows == {"access-request": 1, "contract-review": 1, "expense-claim": 2, "leave-request": 1,
                     "purchase-order": 3}
    assert catalog.get("expense-claim").from_input_fields == ("reviewer",)
    info = catalog.get("expense-claim").step_info
    assert info["cool-off"].followers == ("travel-desk",) and info["travel-check"].type == "branch"
