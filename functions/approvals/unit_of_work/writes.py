"""The parts of one change to an approval, as the store writes them in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import Step, StepStatus


@dataclass(frozen=True)
class NewEvent:
    """An audit event to append; seq and hashes are filled in by the store."""

    type: str
    actor: str
    data: Mapping[str, Any]
    acting_for: str | None = None


@dataclass(frozen=True)
class StepWrite:
    """A stage item to put, and what it must look like before (the write fails otherwise)."""

    step: Step
    expect: frozenset[StepStatus] = frozenset()  # allowed current statuses; empty: no check
    may_create: bool = False  # the item may also not exist yet
