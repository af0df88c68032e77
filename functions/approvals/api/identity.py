"""Who is calling: read only from what the authorizer put in the request context.

API Gateway REST APIs hand over a Cognito authorizer's verified claims as
`requestContext.authorizer.claims`, and a Lambda authorizer's context as `requestContext.authorizer`
itself; the local gateway fills the Cognito shape. The body is never consulted: a caller cannot
name themself or their tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Every table key starts with `T#<tenant>#`: a tenant or user with `#` (or anything odd) in it
# could reach another key space, so such an identity counts as no identity at all.
from ..domain.directory import NAME as _NAME
from ..settings import settings


@dataclass(frozen=True)
class Caller:
    user: str
    tenant: str


def _claims(event: Mapping[str, Any]) -> Mapping[str, Any]:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    if not isinstance(authorizer, Mapping):
        return {}
    claims = authorizer.get("claims")
    return claims if isinstance(claims, Mapping) else authorizer


def user_claim() -> str:
    """Which verified claim names the caller (USER_CLAIM: `sub` or `cognito:username`)."""
    return settings().user_claim


def caller_from_event(event: Mapping[str, Any]) -> Caller | None:
    """The verified caller, or None when the request context carries no usable identity."""
    claims = _claims(event)
    user = claims.get(user_claim())
    tenant = claims.get("tenant") or claims.get("custom:tenant")
    if not isinstance(user, str) or not isinstance(tenant, str):
        return None
    if not _NAME.fullmatch(user) or not _NAME.fullmatch(tenant):  # not `match`: "ann\n" would pass
        return None
    return Caller(user=user, tenant=tenant)
