"""Domain exceptions. Each class carries the HTTP status and error code the API answers it with
(`status`, `code`: docs/api.md's error table), so the API maps them all in one place; their class
names are also what a Step Functions `Catch` sees when a handler raises one.

HTTP mapping (a subclass inherits its base's): NotFound 404 `not_found`, Conflict 409 `conflict`,
TooSoon 429 `rate_limited` (with `retry_after`: the Retry-After header), NotAllowed 403
`not_allowed`, InvalidInput 400 `invalid_input` (with `details`); any other DomainError is still the
request's fault: 400 `invalid_input`. Only the standard library here: the domain knows no AWS.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status: int = HTTPStatus.BAD_REQUEST
    code: str = "invalid_input"
    # `{"field": ..., "problem": ...}`, one per problem found (InvalidInput fills it).
    details: Sequence[dict[str, str]] = ()
    # Seconds after which the same request may succeed (TooSoon sets it).
    retry_after: int | None = None


class NotFound(DomainError):
    """No such approval for this tenant, or one the caller may not see (existence is not revealed)."""

    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class UnknownFlow(NotFound):
    """No such flow (or flow version) in the catalog."""


class Conflict(DomainError):
    """The request does not fit the current state (409)."""

    status = HTTPStatus.CONFLICT
    code = "conflict"


class StepNotOpen(Conflict):
    """A decision or action arrived for a step that is not open (settled, never opened, or not yet open)."""


class AlreadyDecided(Conflict):
    """This assignee already decided on this stage."""


class StaleRevision(Conflict):
    """The approval changed since the revision the caller saw."""


class ApprovalExists(Conflict):
    """An approval with this id exists already (a repeated start with the same idempotency key)."""


class ApprovalFinished(Conflict):
    """The approval is no longer running (approved, rejected, withdrawn or failed)."""


class NotReturnable(Conflict):
    """A return to a step that has not run in this approval."""


class TooSoon(Conflict):
    """Rate limited (429 rather than 409): e.g. a reminder for the same step within the hour."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotAllowed(DomainError):
    """The caller may not do this now (not an assignee, or not their turn in a sequence)."""

    status = HTTPStatus.FORBIDDEN
    code = "not_allowed"


class ActionNotAllowed(NotAllowed):
    """The step's `allow` does not include this action (add_signer, transfer, return)."""


class NotRequester(NotAllowed):
    """Only the requester may do this (withdraw, remind, resubmit)."""


class InvalidInput(DomainError):
    """A malformed request (unknown decision, bad approver spec, input not matching the flow, ...).
    `details` lists `{"field": ..., "problem": ...}`, one per problem found."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_input"

    def __init__(self, message: str = "invalid input", details: Sequence[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.details: list[dict[str, str]] = [dict(d) for d in details or ()]


class UnknownUser(InvalidInput):
    """An approver named by the request or the flow is not in the tenant's directory."""

    def __init__(self, user: str, field: str | None = None) -> None:
        problem = f"user {user!r} is not in the directory"
        super().__init__(problem, [{"field": field or "user", "problem": problem}])
        self.user = user
        self.field = field
