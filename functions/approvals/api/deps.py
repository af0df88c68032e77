"""What the routers share: `new_router()`, and the caller the resolver admitted (`Depends(caller)`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.request import Request

from .errors import Unauthorized
from .identity import Caller


def caller(request: Request) -> Caller:
    found = request.context.get("caller")
    if not isinstance(found, Caller):  # only for a route wrongly listed as public
        raise Unauthorized("a valid bearer token is required")
    return found


def new_router() -> Router:
    return Router()  # type: ignore[no-untyped-call]  # powertools leaves Router.__init__ unannotated
