"""The unit of work's log: a child of the service's Logger (the handlers' and the API's), so its
lines carry the keys the handler appended (approval_id, tenant, ...) and the service's name."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from ..settings import settings

# A child of the service's Logger (the handlers' and the API's): its lines go through that Logger's
# handler, with the keys the handler appended (approval_id, tenant, ...) and the service's name.
log = Logger(service=settings().service_name, child=True)


def approval_keys(tenant: Any, approval_id: Any, **more: Any) -> dict[str, Any]:
    """What a log line of this module is about, for the lines logged outside a handler that tagged
    them (the sweep goes through many approvals); inside one they are the same values."""
    return {"tenant": tenant, "approval_id": approval_id, **more}
