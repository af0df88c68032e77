"""A stage write of one change to an approval, as the store writes it in the change's transaction
(with the change's audit events, approvals.domain.audit.NewEvent)."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import DecisionRecord, Step, StepStatus
from ..domain.stage import Tally


@dataclass(frozen=True)
class StepWrite:
    """A stage item to put, and what it must look like before (the write fails otherwise)."""

    step: Step
    expect: frozenset[StepStatus] = frozenset()  # allowed current statuses; empty: no check
    may_create: bool = False  # the item may also not exist yet


@dataclass(frozen=True)
class Vote:
    """A decision counted on its stage item alone (domain.stage.Tally), outside the approval's
    revision: the decision's item written if absent, the stage's count raised if the stage is still
    open, the decider still an assignee and the count still short of both thresholds, and the
    decider's inbox entry dropped. The decision that would settle the stage is not a Vote: it goes
    through the approval's revision like every other change."""

    stage: Step  # as read
    record: DecisionRecord
    tally: Tally
