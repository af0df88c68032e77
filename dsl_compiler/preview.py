"""Which steps a request would run: the compiled steps handed to the contract's preview, so that
the CLI and the API answer from the same code and the same condition trees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from approvals.contract.preview import preview_steps

from .ir import FlowIR
from .manifest import input_schema
from .spec import steps_spec


def preview(ir: FlowIR, data: Mapping[str, Any], requester: str = "") -> list[dict[str, Any]]:
    """`[{"step", "runs", "approvers", "mode"}]` in document order; nothing is started."""
    return preview_steps(steps_spec(ir.steps), input_schema(ir), data, requester)
