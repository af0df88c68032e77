"""`POST /flows/{flow}/preview`: the path an input would take, nothing started.

The condition trees of the flow's manifest, evaluated in Python (the meaning the Choice rules
have); approvers are resolved against the tenant's directory where they can be, so the caller
sees who would be asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import catalog
from ..contract.preview import preview as preview_steps
from ..domain import DomainError, NotFound
from ..domain.validation import validate_input
from ..wiring import Runtime, default_runtime


def preview(tenant: str, flow: str, requester: str, data: Mapping[str, Any], *,
            rt: Runtime | None = None) -> list[dict[str, Any]]:
    """`[{"step", "runs", "approvers", "mode"}]` for the latest version of `flow`. Raises
    UnknownFlow (404) and InvalidInput with details (400) as starting would."""
    entry = catalog.get(flow)
    clean = validate_input(entry.input_schema, data)
    rows = preview_steps(entry.spec, clean, requester)
    try:
        directory = (rt or default_runtime()).store.get_directory(tenant)
    except NotFound:
        return rows
    for row in rows:
        if row.get("runs") and row.get("approvers"):
            try:
                row["approvers"] = directory.resolve_all(row["approvers"], requester, clean)
            except DomainError:
                pass  # cannot be resolved now (e.g. a missing manager): show the rule instead
    return rows
