"""Approver resolution against the example directory (flows/directory.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from approvals.domain import Directory, InvalidInput, UnknownUser
from approvals.domain.directory import directory_problems

DIRECTORY_FILE = Path(__file__).resolve().parents[3] / "flows" / "directory.yaml"


@pytest.fixture(scope="module")
def directory() -> Directory:
    return Directory.from_dict(yaml.safe_load(DIRECTORY_FILE.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("spec", "requester", "expected"),
    [
        ({"users": ["ceo", "cfo", "ceo"]}, "ann", ["ceo", "cfo"]),
        ({"role": "finance"}, "ann", ["erin", "frank"]),
        ({"role": "director", "scope": "department"}, "ann", ["bob", "carol"]),
        ({"role": "director", "scope": "department"}, "erin", []),
        ({"manager": 1}, "ann", ["bob"]),
        ({"manager": 2}, "ann", ["carol"]),
        ({"manager": 3}, "ann", ["ceo"]),
        ({"manager": 4}, "ann", []),  # above the top
        ({"manager": 1}, "ceo", []),
        ({"manager_chain": 2}, "ann", ["bob", "carol"]),
        ({"manager_chain": 9}, "ann", ["bob", "carol", "ceo"]),
        ({"manager_chain": {"until_role": "director"}}, "ann", ["bob"]),
        ({"manager_chain": {"until_role": "director"}}, "bob", ["carol"]),
        ({"manager_chain": {"until_role": "general-counsel"}}, "dpo", ["gc"]),
        ({"manager_chain": {"until_role": "nobody-has-it"}}, "ann", ["bob", "carol", "ceo"]),
        ({"department_head": True}, "ann", ["carol"]),
        ({"department_head": True}, "frank", ["cfo"]),
        ({"requester": True}, "ann", ["ann"]),
    ],
)
def test_resolve(directory: Directory, spec: dict[str, object], requester: str, expected: list[str]) -> None:
    assert directory.resolve(spec, requester, {}) == expected


def test_from_input_takes_one_or_many_known_users(directory: Directory) -> None:
    assert directory.resolve({"from_input": "reviewer"}, "ann", {"reviewer": "dave"}) == ["dave"]
    assert directory.resolve({"from_input": "reviewers"}, "ann", {"reviewers": ["gina", "hank"]}) == ["gina", "hank"]
    assert directory.resolve({"from_input": "reviewer"}, "ann", {}) == []


def test_from_input_refuses_someone_not_in_the_directory(directory: Directory) -> None:
    with pytest.raises(UnknownUser) as caught:
        directory.resolve({"from_input": "reviewer"}, "ann", {"reviewer": "zed"})
    assert caught.value.user == "zed"


def test_union_keeps_first_appearance(directory: Directory) -> None:
    specs = [{"role": "security"}, {"role": "sre-lead"}, {"users": ["jack", "ciso"]}]
    assert directory.resolve_all(specs, "ann", {}) == ["jack", "kate", "dave", "ciso"]
    assert directory.resolve_all({"manager": 1}, "ann", {}) == ["bob"]  # a single spec is fine too


def test_unknown_requester_and_bad_specs(directory: Directory) -> None:
    with pytest.raises(UnknownUser):
        directory.resolve({"manager": 1}, "nobody", {})
    with pytest.raises(InvalidInput):
        directory.resolve({"colleague": True}, "ann", {})
    with pytest.raises(InvalidInput):
        directory.resolve({"role": "legal", "scope": "galaxy"}, "ann", {})
    with pytest.raises(InvalidInput):
        directory.resolve_all([{"users": ["a"]}, "rejected"], "ann", {})  # type: ignore[list-item]


def test_delegation_window(directory: Directory) -> None:
    inside = datetime(2026, 12, 24, tzinfo=UTC)
    assert directory.acting_for("dave", inside) == ["bob"]
    assert directory.delegate_of("bob", inside) == "dave"
    # starts is inclusive, ends exclusive
    assert directory.acting_for("dave", datetime(2026, 12, 20, tzinfo=UTC)) == ["bob"]
    assert directory.acting_for("dave", datetime(2027, 1, 5, tzinfo=UTC)) == []
    assert directory.acting_for("dave", datetime(2026, 12, 19, 23, 59, tzinfo=UTC)) == []
    assert directory.acting_for("bob", inside) == []


def test_manager_cycle_does_not_loop() -> None:
    looped = Directory.from_dict({"users": [{"id": "a", "manager": "b"}, {"id": "b", "manager": "a"}]})
    assert looped.managers("a") == ["b"]
    assert looped.resolve({"manager_chain": 5}, "a", {}) == ["b"]


def test_the_example_directory_is_valid() -> None:
    assert directory_problems(yaml.safe_load(DIRECTORY_FILE.read_text(encoding="utf-8"))) == []


def test_a_bad_directory_names_every_problem_and_is_not_built() -> None:
    doc = {
        "tenant": "acme#2",
        "users": [{"id": "ann", "manager": "bob", "roles": "finance"}, {"id": "ann"}, {"name": "no id"}],
        "departments": [{"id": "eng", "head": "zoe"}],
        "delegations": [{"from": "ann", "to": "ghost", "starts": "2027-01-05T00:00:00Z", "ends": "2027-01-01"},
                        {"from": "ann", "to": "ann"}],
        "groups": [],
    }
    assert directory_problems(doc) == [
        {"field": "groups", "problem": "unknown key"},
        {"field": "tenant", "problem": "required: letters, digits and ._@+- only"},
        {"field": "users[0].manager", "problem": "user 'bob' is not in the directory"},
        {"field": "users[0].roles", "problem": "a list of role names"},
        {"field": "users[1].id", "problem": "duplicate user 'ann'"},
        {"field": "users[2].id", "problem": "required: letters, digits and ._@+- only"},
        {"field": "departments[0].head", "problem": "user 'zoe' is not in the directory"},
        {"field": "delegations[0].to", "problem": "user 'ghost' is not in the directory"},
        {"field": "delegations[0].ends", "problem": "must be after starts"},
        {"field": "delegations[1]", "problem": "starts and ends are required ISO 8601 times"},
    ]
    with pytest.raises(InvalidInput) as refused:
        Directory.checked(doc)
    assert len(refused.value.details) == 10
    assert directory_problems(["ann"]) == [
        {"field": "directory", "problem": "must be a mapping with tenant, users, departments, delegations"}]
