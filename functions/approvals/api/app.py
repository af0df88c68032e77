"""The HTTP API (docs/api.md): one powertools resolver, routes in routers under `/v1`.

Deployed, API Gateway passes the resource path without the stage (`/v1/flows`); the local
gateway passes the same path, so one set of rules serves both. The handler is
`approvals.handlers.api.handler`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..domain import DomainError
from . import actions, approvals, body, flows, openapi
from .body import MAX_BODY_BYTES
from .errors import (
    ApiError,
    NoSuchResource,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedBody,
    error_response,
    refusal,
    validation_details,
)
from .identity import Caller, caller_from_event
from .models import Health
from .telemetry import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

_H = TypeVar("_H", bound=Callable[..., Any])

PREFIX = "/v1"
# The handler asks no identity of these. Deployed, only /v1/health bypasses the authorizer
# (template.yaml): the OpenAPI document and its page need a token there; locally none.
PUBLIC_PATHS = frozenset({f"{PREFIX}/health", "/openapi.json", "/docs"})

# No route has a control character in its path; powertools' route patterns end in `$`, which also
# matches before a final newline (`/v1/approvals/a1\n` would be a1's route).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

__all__ = ["MAX_BODY_BYTES", "app", "logger", "metrics"]


def is_public(request: APIGatewayProxyEvent) -> bool:
    """Whether the request is for one of PUBLIC_PATHS, as the resolver routes it: their routes are
    GETs, which powertools matches with trailing slashes too; any other method on exactly such a
    path is a 404 the caller may have without a token."""
    path = request.path
    return path in PUBLIC_PATHS or (request.http_method.upper() == "GET" and path.rstrip("/") in PUBLIC_PATHS)


def admit(request: APIGatewayProxyEvent) -> Caller | None:
    """The caller of a request the API will look at (None on a public path); else the ApiError that
    turns it away: 401 for a stranger, 404 for a path with a control character, 413 for a body over
    MAX_BODY_BYTES, 400 for a body that is not JSON, not UTF-8, or nested too deeply (body.py)."""
    caller = None
    if not is_public(request):
        caller = caller_from_event(request.raw_event)
        if caller is None:
            raise Unauthorized("a valid bearer token is required")
    if _CONTROL.search(request.path or ""):
        raise NoSuchResource("no such resource")
    size = body.size(request.raw_event)
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    # powertools would parse a form body as fields named after the whole JSON text (curl's
    # default without -H): say plainly what is wrong instead.
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if size and content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedBody("send the body as JSON, with Content-Type: application/json")
    if size:
        body.check(request.raw_event)
    return caller


def stage_prefix(request: APIGatewayProxyEvent) -> str:
    """`/<stage>` when the request came through API Gateway's own URL (`/dev/openapi.json`), else ""
    (a custom domain, the local gateway: the path has no stage in front)."""
    context = request.request_context
    stage, path = context.get("stage"), context.get("path") or ""
    return f"/{stage}" if stage and stage != "$default" and path.startswith(f"/{stage}") else ""


class ApprovalsResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver that turns away strangers (401), oversized bodies (413) and bodies
    that are not JSON (or not UTF-8, or too deep: 400) first, before it routes.

    powertools (3.37) runs its request validation ahead of every middleware, those of `app.use`
    included, so a middleware would parse a stranger's body and could answer it with field
    details. `resolve`, the resolver's public entry point, therefore admits the request before
    handing it to powertools, and answers a refusal itself, in the API's error shape.
    """

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = APIGatewayProxyEvent(dict(event))
        try:
            caller = admit(request)
        except ApiError as refused:
            return ResponseBuilder[APIGatewayProxyEvent](refusal(refused)).build(request)
        if caller is not None:
            self.context["caller"] = caller  # for Depends(caller) and the log keys; resolve() clears it
        return super().resolve(event, context)

    def exception_handler(self, exc_class: type[Exception] | list[type[Exception]]) -> Callable[[_H], _H]:
        """powertools' own registration, annotated (powertools leaves it untyped) so that the
        handlers below stay type-checked."""
        register: Any = super().exception_handler
        return cast("Callable[[_H], _H]", register(exc_class))

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        """The document, configured on first use (api/openapi.py). powertools documents a 422 for
        validation errors on every route (a route's `responses` cannot take it out); this API
        answers them with a 400 in its own error shape, which each
        route documents itself. And powertools drops a route's empty `security`, which is how
        OpenAPI says "no token needed": the public paths get theirs here."""
        if self.openapi_config.title != openapi.TITLE:
            openapi.configure(self)
        schema = super().get_openapi_schema(**kwargs)
        for path, item in (schema.paths or {}).items():
            for operation in (item.get, item.put, item.post, item.delete, item.patch):
                if operation is None:
                    continue
                if operation.responses:
                    operation.responses.pop(422, None)
                if path in PUBLIC_PATHS:
                    operation.security = []
        if schema.components and schema.components.schemas:
            for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
                schema.components.schemas.pop(unused, None)
        return schema


app = ApprovalsResolver(enable_validation=True, json_body_deserializer=body.parse)
for module in (flows, approvals, actions):
    app.include_router(module.router, prefix=PREFIX)


@app.get(f"{PREFIX}/health", tags=["health"], summary="Is the API up (no token needed)",
         responses={200: {"description": "it is"}})
def health() -> Health:
    return Health(status="ok")


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    base = stage_prefix(app.current_event) or "/"  # the stage when called through API Gateway's own URL
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi.document(app, base))


@app.get("/docs", include_in_schema=False)
def openapi_page() -> Response[str]:
    base = stage_prefix(app.current_event) or "/"
    return Response(status_code=200, content_type="text/html", body=openapi.page(app, base))


def log_keys(resolver: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Tag every log line of this request with what it is about (after validation: known good)."""
    args = resolver.context.get("_route_args") or {}
    caller = resolver.context.get("caller")
    keys: dict[str, Any] = {"tenant": caller.tenant if caller else None, "user": caller.user if caller else None}
    keys.update({k: args[k] for k in ("approval_id", "flow") if k in args})
    step = getattr(args.get("body"), "step", None)
    if step:
        keys["step"] = step
    logger.append_keys(**keys)
    return next_middleware(resolver)


app.use(middlewares=[log_keys])


# --- errors: each mapped once, all in the shape of api.md ------------------------------------


@app.exception_handler([ApiError, DomainError])
def on_refusal(error: ApiError | DomainError) -> Response[Any]:
    # Each class carries its status and code (errors.py, domain/errors.py); a domain refusal
    # without a more specific class is still the request's fault (400), never a 500.
    return refusal(error)


@app.exception_handler(RequestValidationError)
def on_invalid_request(error: RequestValidationError) -> Response[Any]:
    return error_response(HTTPStatus.BAD_REQUEST, "invalid_input", "the request is not valid",
                          validation_details(error.errors()))


@app.exception_handler(NotFoundError)
def on_no_route(error: NotFoundError) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such resource")


@app.exception_handler(Exception)
def on_unexpected(error: Exception) -> Response[Any]:
    # Our fault, not the caller's: log it whole, answer without a stack trace.
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "internal error")
