"""The flows a tenant may start."""

from __future__ import annotations

from typing import Any

from .. import catalog


def list_flows(tenant: str | None = None) -> list[dict[str, Any]]:
    """`[{"flow", "version", "title"}]`: the latest version of every flow in the catalog (every
    tenant sees the same flows)."""
    return catalog.list_flows()
