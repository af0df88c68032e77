"""Read an approval as the caller may see it: from the table, or from the archive once its items expired."""

from __future__ import annotations

from typing import Any

from ..archive.read import load_archived
from ..commands.common import directory_of
from ..domain import Approval, NotFound
from ..domain.policy import check_visible
from ..unit_of_work.tokens import finish_leftovers
from ..wiring import Runtime, default_runtime


def get_approval(tenant: str, approval_id: str, user: str, *, rt: Runtime | None = None) -> Approval:
    """The approval, for the requester, anyone who was ever on one of its stages (or stands in for
    one now), or a tenant admin; NotFound (404) for anyone else, as for an id that does not exist."""
    return read_visible(tenant, approval_id, user, rt or default_runtime())[0]


def read_visible(tenant: str, approval_id: str, user: str, rt: Runtime) -> tuple[Approval, list[Any] | None]:
    """The approval from the table, or, once its items have expired, from the archive (then with
    its archived events)."""
    archived: list[Any] | None = None
    try:
        approval = rt.store.load(tenant, approval_id)
        finish_leftovers(rt, approval)
    except NotFound:
        approval, archived = load_archived(tenant, approval_id, rt=rt)
    check_visible(approval, user, directory_of(rt, tenant), rt.now())
    return approval, archived
