"""Settlement rules of a human stage (approvals.domain.rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from approvals.domain import Decision, InvalidInput, Outcome, may_decide, parse_mode, settle

A, R = Decision.APPROVE, Decision.REJECT
PEOPLE = ["p1", "p2", "p3", "p4", "p5"]


@pytest.mark.parametrize(
    ("mode", "decisions", "expected"),
    [
        ("all", {}, Outcome.OPEN),
        ("all", {"p1": A, "p2": A}, Outcome.OPEN),
        ("all", {"p1": A, "p2": A, "p3": A, "p4": A, "p5": A}, Outcome.APPROVED),
        ("all", {"p1": A, "p4": R}, Outcome.REJECTED),  # one reject: "all" can no longer be met
        ("any", {}, Outcome.OPEN),
        ("any", {"p3": A}, Outcome.APPROVED),
        ("any", {"p3": R}, Outcome.REJECTED),  # the first decision settles it, either way
        ("sequential", {"p1": A}, Outcome.OPEN),
        ("sequential", {"p1": A, "p2": R}, Outcome.REJECTED),
        ({"quorum": 2}, {"p1": A}, Outcome.OPEN),
        ({"quorum": 2}, {"p1": A, "p5": A}, Outcome.APPROVED),
        ({"quorum": 2}, {"p1": R, "p2": R, "p3": R}, Outcome.OPEN),  # p4 and p5 can still make 2
        ({"quorum": 2}, {"p1": R, "p2": R, "p3": R, "p4": R}, Outcome.REJECTED),
        ({"percent": 60}, {"p1": A, "p2": A}, Outcome.OPEN),  # 60% of 5 is 3
        ({"percent": 60}, {"p1": A, "p2": A, "p3": A}, Outcome.APPROVED),
        ({"percent": 60}, {"p1": R, "p2": R}, Outcome.OPEN),
        ({"percent": 60}, {"p1": R, "p2": R, "p3": R}, Outcome.REJECTED),
    ],
)
def test_settle(mode: object, decisions: dict[str, Decision], expected: Outcome) -> None:
    assert settle(mode, PEOPLE, decisions) is expected


def test_decisions_of_non_assignees_do_not_count() -> None:
    assert settle("any", ["bob"], {"mallory": A}) is Outcome.OPEN
    assert settle("all", ["bob", "carol"], {"bob": A, "mallory": R}) is Outcome.OPEN


def test_percent_rounds_up_and_needs_at_least_one() -> None:
    assert parse_mode({"percent": 50}).required(3) == 2
    assert parse_mode({"percent": 1}).required(3) == 1


def test_quorum_larger_than_the_assignees_is_rejected_at_once() -> None:
    # The rule as written cannot be met by these people: nobody should be left waiting.
    assert settle({"quorum": 3}, ["a", "b"], {}) is Outcome.REJECTED


def test_sequential_lets_only_the_next_one_decide() -> None:
    assert may_decide("sequential", ["bob", "carol", "ceo"], {}) == ["bob"]
    assert may_decide("sequential", ["bob", "carol", "ceo"], {"bob": A}) == ["carol"]
    assert may_decide("all", ["bob", "carol"], {"bob": A}) == ["carol"]
    assert may_decide("any", ["bob", "carol"], {}) == ["bob", "carol"]


def test_nobody_may_decide_a_settled_stage() -> None:
    assert may_decide("any", ["bob", "carol"], {"bob": A}) == []
    assert may_decide("all", ["bob", "carol"], {"bob": R}) == []


@pytest.mark.parametrize("mode", ["most", {"quorum": 0}, {"percent": 101}, {"quorum": "2"}, {"quorum": True}, {}])
def test_unknown_modes_are_refused(mode: object) -> None:
    with pytest.raises(InvalidInput):
        parse_mode(mode)


def test_a_stage_without_assignees_cannot_be_settled_by_decisions() -> None:
    with pytest.raises(InvalidInput):
        settle("all", [], {})


def test_modes_round_trip_to_json() -> None:
    for mode in ("all", "any", "sequential", {"quorum": 2}, {"percent": 60}):
        assert parse_mode(mode).to_json() == mode


MODES = st.sampled_from(["all", "any", "sequential", {"quorum": 1}, {"quorum": 3}, {"percent": 40}, {"percent": 100}])


@st.composite
def stages(draw: st.DrawFn) -> tuple[object, list[str], list[tuple[str, Decision]]]:
    size = draw(st.integers(min_value=1, max_value=6))
    people = [f"u{i}" for i in range(size)]
    order = draw(st.permutations(people))
    votes = draw(st.lists(st.sampled_from([A, R]), min_size=len(order), max_size=len(order)))
    return draw(MODES), people, list(zip(order, votes, strict=True))


@given(stages())
def test_once_settled_a_stage_stays_settled(stage: tuple[object, list[str], list[tuple[str, Decision]]]) -> None:
    """Deciding in turn (as the service does) never moves a settled stage, and everyone having
    decided always settles it."""
    mode, people, votes = stage
    decided: dict[str, Decision] = {}
    outcome = settle(mode, people, decided)  # a quorum above the head count is rejected before anyone votes
    for user, vote in votes:
        allowed = may_decide(mode, people, decided)
        if outcome is not Outcome.OPEN:
            assert allowed == []
            break
        if user not in allowed:
            user = allowed[0]  # sequential: the next in line decides instead
        decided[user] = vote
        outcome = settle(mode, people, decided)
    else:
        assert outcome is not Outcome.OPEN
    approvals = sum(1 for v in decided.values() if v is A)
    if outcome is Outcome.APPROVED:
        assert approvals >= parse_mode(mode).required(len(people))


@pytest.mark.parametrize(("mode", "people", "met"), [
    ("any", 0, False), ("any", 1, True), ("all", 3, True), ("sequential", 1, True),
    ({"quorum": 3}, 2, False), ({"quorum": 3}, 3, True), ({"percent": 50}, 1, True), ({"percent": 100}, 0, False),
])
def test_a_rule_is_met_only_by_enough_people(mode: object, people: int, met: bool) -> None:
    assert parse_mode(mode).met_by(people) is met
