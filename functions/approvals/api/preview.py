"""`POST /flows/{flow}/preview`: the path an input would take, nothing started.

The same condition tree the Choice rules run, evaluated in Python (dsl_compiler.preview), on the
flow source the catalog carries; approvers are resolved against the tenant's directory where
they can be, so the caller sees who would be asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .. import catalog
from ..domain import DomainError, NotFound
from ..domain.validation import validate_input
from ..runtime import default_runtime

if TYPE_CHECKING:
    from dsl_compiler.ir import FlowIR


@lru_cache(maxsize=64)
def _flow_ir(flow: str, version: int, source: str) -> FlowIR:
    # The compiler is imported here, not at the top: only previews need it, every cold start would pay.
    from dsl_compiler.errors import ErrorSink
    from dsl_compiler.ir import build
    from dsl_compiler.pipeline import check_text

    sink = ErrorSink()
    validated = check_text(source, f"{flow}-v{version}", sink)
    if validated is None or sink:
        raise NotFound(f"flow {flow} v{version} cannot be previewed")  # a catalog built by the compiler never is
    return build(validated)


def preview(tenant: str, flow: str, requester: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`[{"step", "runs", "approvers", "mode"}]` for the latest version of `flow`. Raises
    UnknownFlow (404) and InvalidInput with details (400) as starting would."""
    entry = catalog.get(flow)
    clean = validate_input(entry.input_schema, data)
    from dsl_compiler.preview import preview as preview_steps

    rows = preview_steps(_flow_ir(entry.flow, entry.version, entry.source), clean, requester)
    try:
        directory = default_runtime().store.get_directory(tenant)
    except NotFound:
        return rows
    for row in rows:
        if row.get("runs") and row.get("approvers"):
            try:
                row["approvers"] = directory.resolve_all(row["approvers"], requester, clean)
            except DomainError:
                pass  # cannot be resolved now (e.g. a missing manager): show the rule instead
    return rows
