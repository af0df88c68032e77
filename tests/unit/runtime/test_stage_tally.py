"""domain.stage.tally, the twin of domain.rules.settle that decisions are counted by on the stage
item (store.py, "vote"): for every mode it applies to and every order of decisions, a decision
settles the stage by the thresholds exactly when settle says the stage it leaves is settled."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from approvals.domain import Decision, DecisionRecord, Outcome, Step, StepStatus
from approvals.domain.stage import counts, outcome, tally

modes = st.one_of(st.sampled_from(["all", "any"]), st.integers(1, 12).map(lambda n: {"quorum": n}),
                  st.integers(1, 100).map(lambda p: {"percent": p}))


@given(mode=modes, size=st.integers(1, 12), data=st.data())
def test_thresholds_agree_with_settle(mode: Any, size: int, data: st.DataObject) -> None:
    people = [f"u{i}" for i in range(size)]
    stage = Step(step="s", stage=0, status=StepStatus.OPEN, mode=mode, assignees=people)
    found = tally(stage)
    assert found is not None
    order = data.draw(st.permutations(people))
    choices = data.draw(st.lists(st.sampled_from(list(Decision)), min_size=size, max_size=size))
    for user, choice in zip(order, choices, strict=True):
        if outcome(stage) is not Outcome.OPEN:
            break
        approvals, rejections = counts(stage)
        after = replace(stage, decisions=[*stage.decisions, DecisionRecord(user, choice, "t", user)])
        assert found.decides(choice, approvals, rejections) == (outcome(after) is not Outcome.OPEN)
        # What store.vote's condition lets through is exactly what does not settle the stage.
        alim, rlim = found.vote_limits(choice)
        assert (approvals < alim and rejections < rlim) == (outcome(after) is Outcome.OPEN)
        stage = after


def test_no_tally_where_the_order_of_decisions_matters() -> None:
    sequential = Step(step="s", stage=0, status=StepStatus.OPEN, mode="sequential", assignees=["a", "b"])
    assert tally(sequential) is None
    assert tally(replace(sequential, kind="resubmit", mode="any")) is None
