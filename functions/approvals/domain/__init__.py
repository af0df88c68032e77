"""Domain rules of approvals: plain Python, no AWS imports (so they are fast to load and easy to test)."""

from __future__ import annotations

from .directory import Delegation, Directory, User, parse_time
from .errors import (
    AlreadyDecided,
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotFound,
    StaleRevision,
    StepNotOpen,
    UnknownUser,
)
from .model import (
    SETTLED_STEP_STATUSES,
    Approval,
    ApprovalStatus,
    Decision,
    DecisionRecord,
    Outcome,
    Step,
    StepStatus,
)
from .rules import Rule, may_decide, parse_mode, settle

__all__ = [
    "SETTLED_STEP_STATUSES",
    "AlreadyDecided",
    "Approval",
    "ApprovalStatus",
    "Conflict",
    "Decision",
    "DecisionRecord",
    "Delegation",
    "Directory",
    "DomainError",
    "InvalidInput",
    "NotAllowed",
    "NotFound",
    "Outcome",
    "Rule",
    "StaleRevision",
    "Step",
    "StepNotOpen",
    "StepStatus",
    "UnknownUser",
    "User",
    "may_decide",
    "parse_mode",
    "parse_time",
    "settle",
]
