"""What waits for the caller (待办), in the order it arrived."""

from __future__ import annotations

from typing import Any

from ..commands.common import directory_of
from ..wiring import Runtime, default_runtime


def inbox(tenant: str, user: str, *, rt: Runtime | None = None) -> list[dict[str, Any]]:
    """Open stages waiting for `user` now, or for someone `user` stands in for now (then
    `acting_for` names them): `[{"approval_id", "flow", "step", "requester", "opened_at", "deadline",
    "stage", "acting_for"}]`, oldest first. Read from the table's inbox index (gsi1)."""
    rt = rt or default_runtime()
    directory = directory_of(rt, tenant)
    sources = [user, *(directory.acting_for(user, rt.now()) if directory is not None else [])]
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for who in dict.fromkeys(sources):
        for item in rt.store.inbox(tenant, who):
            key = (str(item["approval_id"]), str(item["step"]), int(item["stage"]))
            if key in seen:
                continue
            seen.add(key)
            found.append({
                "approval_id": item["approval_id"], "flow": item["flow"], "step": item["step"],
                "requester": item["requester"], "opened_at": item.get("opened_at"), "deadline": item.get("deadline"),
                "stage": int(item["stage"]), "acting_for": None if who == user else who,
            })
    return sorted(found, key=lambda e: (e["opened_at"] or "", e["approval_id"], e["step"]))
