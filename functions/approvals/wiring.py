"""The adapters one process uses, built on first use: nothing AWS happens at import (the adapters,
and boto3 with them, are imported only when a use case first needs them), so cold starts stay
short; tests and the local stack hand in their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .clock import utcnow
from .unit_of_work.ports import ApprovalStore, Archive, EventBus, Signer, Workflows


def _store() -> ApprovalStore:
    from .adapters.store import Store

    return Store()


def _workflows() -> Workflows:
    from .adapters.sfn import StepFunctions

    return StepFunctions()


def _bus() -> EventBus:
    from .adapters.events import Events

    return Events()


def _archive() -> Archive:
    from .adapters.archive_store import ArchiveStore

    return ArchiveStore()


def _signer() -> Signer:
    from .adapters.signer import KmsSigner

    return KmsSigner()


@dataclass
class Runtime:
    """The ports one use case runs against (approvals.unit_of_work.ports), and its clock."""

    store: ApprovalStore = field(default_factory=_store)
    sfn: Workflows = field(default_factory=_workflows)
    events: EventBus = field(default_factory=_bus)
    archive: Archive = field(default_factory=_archive)
    signer: Signer = field(default_factory=_signer)  # signs what `archive` keeps (archive/write.py)
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep  # the wait between contended attempts


_default: Runtime | None = None


def default_runtime() -> Runtime:
    """The process's Runtime, built on first use."""
    global _default
    if _default is None:
        _default = Runtime()
    return _default
