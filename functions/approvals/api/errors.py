"""The one error shape of the API: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from ..domain import DomainError

# The most `details` one answer lists (the rest are counted in its last one).
MAX_DETAILS = 100


class ApiError(Exception):
    """A refusal decided by the HTTP layer itself (the domain raises DomainError instead). Both
    carry the same attributes: `status`, `code`, `details`, `retry_after` (see `refusal`)."""

    status: int = HTTPStatus.BAD_REQUEST
    code: str = "invalid_input"
    details: tuple[dict[str, str], ...] = ()
    retry_after: int | None = None


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"


class UnsupportedBody(ApiError):
    details = ({"field": "Content-Type", "problem": "must be application/json"},)


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class InvalidBody(ApiError):
    """A body that cannot be read as JSON at all (not UTF-8, nested too deep, a number too long):
    400 `invalid_input` with one detail for the field `body`."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.details = ({"field": "body", "problem": problem},)


class NoSuchResource(ApiError):
    """A path no route can have (a control character in it): what powertools answers for a path it
    does not know, before powertools' own matching (its `$` also matches before a final newline)."""

    status = HTTPStatus.NOT_FOUND
    code = "not_found"


def error_response(
    status: int, code: str, message: str, details: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    body = {"error": {"code": code, "message": message, "details": [dict(d) for d in details]}}
    return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body,
                    headers=dict(headers or {}))


def refusal(error: ApiError | DomainError) -> Response[Any]:
    """The answer to a refusal, from what its class says: its status and code, its message and
    details, and a Retry-After header (whole seconds, at least one) when it says when to retry."""
    retry = error.retry_after
    headers = {"Retry-After": str(max(1, int(retry)))} if retry is not None else None
    return error_response(error.status, error.code, str(error), capped(error.details), headers=headers)


def _field(loc: Sequence[Any]) -> str:
    # powertools reports ("body", "input", "days") or ("header", "idempotency-key"): the first part
    # says where, the rest is the field the client has to fix.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] == "header":
        return "-".join(word.capitalize() for word in parts[1].split("-"))  # as clients write it
    if len(parts) > 1 and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def capped(details: Sequence[Mapping[str, str]], limit: int | None = None) -> list[dict[str, str]]:
    """At most `limit` (MAX_DETAILS) details, the last saying how many more there were: a body of
    256 KiB can hold some 100,000 wrong values, and Lambda answers at most 6 MB."""
    limit = MAX_DETAILS if limit is None else limit
    if len(details) <= limit:
        return [dict(d) for d in details]
    kept = [dict(d) for d in details[: limit - 1]]
    return [*kept, {"field": "body", "problem": f"and {len(details) - len(kept)} more problems"}]


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """pydantic's errors as `{"field", "problem"}`; only its message, never the input echoed back.
    At most MAX_DETAILS of them (`capped`)."""
    details = []
    for error in errors:
        loc = tuple(error.get("loc") or ())
        if error.get("type") == "json_invalid":
            problem = f"malformed JSON: {(error.get('ctx') or {}).get('error', 'cannot parse')}"
            details.append({"field": "body", "problem": problem})
            continue
        details.append({"field": _field(loc), "problem": str(error.get("msg") or error.get("type") or "invalid")})
    return capped(details)
