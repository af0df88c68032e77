"""A stage write of one change to an approval, as the store writes it in the change's transaction
(with the change's audit events, approvals.domain.audit.NewEvent)."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import Step, StepStatus


@dataclass(frozen=True)
class StepWrite:
    """A stage item to put, and what it must look like before (the write fails otherwise)."""

    step: Step
    expect: frozenset[StepStatus] = frozenset()  # allowed current statuses; empty: no check
    may_create: bool = False  # the item may also not exist yet
