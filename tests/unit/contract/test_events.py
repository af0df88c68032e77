"""The business events' models: the schemas integrators read are generated from them, and what
does not fit a model is refused before it is published."""

from __future__ import annotations

import json
from typing import Any

import pytest

from approvals.contract.events import EVENT_MODELS, EventType, checked_detail, main, schema_file, schemas
from tests.conftest import ROOT

BASE = {"tenant": "acme", "approval_id": "a1", "flow": "leave-request", "flow_version": 1, "step": "manager",
        "event_id": "e1"}


def test_docs_events_holds_the_schema_of_every_event_and_is_current() -> None:
    assert main([str(ROOT / "docs" / "events"), "--check"]) == 0, "run python -m approvals.contract.events docs/events"
    assert sorted(p.name for p in (ROOT / "docs" / "events").glob("*.schema.json")) == sorted(schemas())
    assert set(EVENT_MODELS) == set(EventType)


def test_the_check_sees_a_stale_schema(tmp_path: Any) -> None:
    main([str(tmp_path)])
    path = tmp_path / schema_file(EventType.STEP_OPENED)
    path.write_text(path.read_text().replace('"assignees"', '"assignee"'))
    assert main([str(tmp_path), "--check"]) == 1


def test_every_event_named_in_docs_api_has_a_schema() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for event in EventType:
        assert f"| `{event.value}` |" in text, event


def test_a_detail_that_fits_is_published_as_given() -> None:
    body = {**BASE, "user": "bob", "acting_for": None, "decision": "approve", "settled": "open"}
    assert checked_detail("Decision Recorded", body) == body
    schema = json.loads(schemas()[schema_file(EventType.DECISION_RECORDED)])
    assert set(schema["required"]) == {"tenant", "approval_id", "flow", "flow_version", "event_id", "user", "decision",
                                       "settled"}


@pytest.mark.parametrize(
    ("detail_type", "body"),
    [
        ("Decision Recorded", {**BASE, "user": "bob", "decision": "maybe", "settled": "open"}),
        ("Decision Recorded", {**BASE, "decision": "approve", "settled": "open"}),
        ("Approval Started", {**BASE, "requester": "ann", "surprise": 1}),
        ("No Such Event", BASE),
    ],
)
def test_a_detail_that_does_not_fit_is_refused(detail_type: str, body: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        checked_detail(detail_type, body)
