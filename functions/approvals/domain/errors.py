"""Domain exceptions. The API maps them to HTTP codes; their class names are also what a
Step Functions `Catch` sees when a handler raises one."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(DomainError):
    """No such approval for this tenant (another tenant's approval is not found either)."""


class Conflict(DomainError):
    """The request does not fit the current state (409)."""


class StepNotOpen(Conflict):
    """A decision arrived for a step that is not open (settled, never opened, or not yet open)."""


class AlreadyDecided(Conflict):
    """This assignee already decided on this stage."""


class StaleRevision(Conflict):
    """The approval changed since the revision the caller saw."""


class NotAllowed(DomainError):
    """The caller may not do this now (not an assignee, or not their turn in a sequence)."""


class InvalidInput(DomainError):
    """A malformed request (unknown decision, bad approver spec, ...)."""


class UnknownUser(InvalidInput):
    """An approver named by the request or the flow is not in the tenant's directory."""

    def __init__(self, user: str) -> None:
        super().__init__(f"user {user!r} is not in the directory")
        self.user = user
