"""Settlement of a human stage: from its mode, assignees and decisions so far, is it approved,
rejected or still open, and who may decide now.

A stage is rejected as soon as its rule can no longer be met, so nobody waits on a
stage whose outcome is already known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidInput
from .model import Decision, Outcome

Kind = Literal["all", "any", "sequential", "quorum", "percent"]


@dataclass(frozen=True)
class Rule:
    kind: Kind
    value: int = 0  # N for quorum, P for percent

    def required(self, assignees: int) -> int:
        """How many approvals settle the stage as approved."""
        if self.kind == "any":
            return 1
        if self.kind == "quorum":
            return self.value
        if self.kind == "percent":
            # At least one approval, however small the percentage.
            return max(1, math.ceil(assignees * self.value / 100))
        return assignees  # all, sequential

    def met_by(self, assignees: int) -> bool:
        """Can this many assignees ever approve the stage? (A quorum of 3 among 2 cannot.)"""
        return assignees >= 1 and self.required(assignees) <= assignees

    def to_json(self) -> Any:
        return {self.kind: self.value} if self.kind in ("quorum", "percent") else self.kind


def parse_mode(mode: Any) -> Rule:
    """`all` | `any` | `sequential` | `{"quorum": N}` | `{"percent": P}` as in the DSL and the contract."""
    if isinstance(mode, Rule):
        return mode
    if mode in ("all", "any", "sequential"):
        return Rule(mode)
    if isinstance(mode, Mapping) and len(mode) == 1:
        ((key, value),) = mode.items()
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"mode {key} needs an integer, got {value!r}")
        if key == "quorum" and value >= 1:
            return Rule("quorum", value)
        if key == "percent" and 1 <= value <= 100:
            return Rule("percent", value)
    raise InvalidInput(f"unknown mode {mode!r}")


def _counted(assignees: Sequence[str], decisions: Mapping[str, Decision]) -> dict[str, Decision]:
    """Only assignees' decisions count, in the order they were made."""
    members = set(assignees)
    return {user: d for user, d in decisions.items() if user in members}


def settle(mode: Any, assignees: Sequence[str], decisions: Mapping[str, Decision]) -> Outcome:
    """The stage's outcome. `decisions` maps assignee -> decision in the order they were made."""
    rule = parse_mode(mode)
    if not assignees:
        raise InvalidInput("a stage without assignees cannot be settled by decisions")
    counted = _counted(assignees, decisions)
    if rule.kind == "any":
        # The first decision settles it, whichever way (或签).
        first = next(iter(counted.values()), None)
        if first is None:
            return Outcome.OPEN
        return Outcome.APPROVED if first is Decision.APPROVE else Outcome.REJECTED
    approvals = sum(1 for d in counted.values() if d is Decision.APPROVE)
    undecided = len(assignees) - len(counted)
    needed = rule.required(len(assignees))
    if approvals >= needed:
        return Outcome.APPROVED
    if approvals + undecided < needed:
        return Outcome.REJECTED
    return Outcome.OPEN


def may_decide(mode: Any, assignees: Sequence[str], decisions: Mapping[str, Decision]) -> list[str]:
    """Assignees who may decide now: nobody once settled, only the next one in a sequence."""
    if settle(mode, assignees, decisions) is not Outcome.OPEN:
        return []
    counted = _counted(assignees, decisions)
    waiting = [user for user in assignees if user not in counted]
    if parse_mode(mode).kind == "sequential":
        return waiting[:1]
    return waiting
