"""Request and response bodies of the HTTP API (the shapes of docs/api.md).

Requests forbid unknown keys, so a misspelt field is a 400 naming it rather than silently
ignored. Responses are what powertools validates and serialises a route's result against, and
what the OpenAPI document at /openapi.json describes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from ..domain import Approval, ApprovalStatus, StepStatus

Name = Annotated[str, Field(min_length=1, max_length=128)]
Revision = Annotated[int | None, Field(default=None, ge=1, description="Act only if the approval is still "
                                                                        "at this revision (else 409)")]
Mode = str | dict[str, int]


class Model(BaseModel):
    """The API's bodies build their validators when first used: a request meets two or three of them."""

    model_config = ConfigDict(defer_build=True)


class Request(Model):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- errors -------------------------------------------------------------------------------


class ErrorDetail(Model):
    field: str
    problem: str


class ErrorInfo(Model):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(Model):
    error: ErrorInfo


_ERRORS = {
    400: "invalid_input: the details name each field and its problem",
    401: "no valid bearer token",
    403: "not_allowed: e.g. not an assignee of that step",
    404: "not_found: no such flow or approval in the caller's tenant",
    409: "conflict: the step is not open, the revision is stale, or the approval has finished",
    413: "the body is larger than 256 KiB",
    429: "rate_limited: too soon again (see Retry-After)",
}


def documented(status: int, description: str, *errors: int, body: bool = False) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of a route: its success and the errors it can answer with."""
    responses: dict[int, OpenAPIResponse] = {status: {"description": description}}
    for code in sorted({400, 401, *errors, *((413,) if body else ())}):
        responses[code] = {"description": _ERRORS[code], "content": {"application/json": {"model": ErrorBody}}}
    return responses


# --- flows ----------------------------------------------------------------------------------


class Health(Model):
    status: Literal["ok"]


class FlowSummary(Model):
    flow: str
    version: int
    title: str | None = None


class InputBody(Request):
    input: dict[str, Any]


class PreviewStep(Model):
    step: str
    runs: bool
    approvers: list[Any] = []
    mode: Mode | None = None


class Preview(Model):
    steps: list[PreviewStep]


# --- approvals ------------------------------------------------------------------------------


class DecisionOut(Model):
    user: str
    acting_for: str | None = None
    decision: Literal["approve", "reject"]
    comment: str | None = None
    at: str


class StepOut(Model):
    step: str
    status: StepStatus
    mode: Mode
    assignees: list[str]
    decisions: list[DecisionOut]
    opened_at: str | None = None
    deadline: str | None = None


class ApprovalOut(Model):
    id: str
    flow: str
    flow_version: int
    status: ApprovalStatus
    requester: str
    input: dict[str, Any]
    revision: int
    created_at: str
    updated_at: str
    steps: list[StepOut]


class InboxItem(Model):
    approval_id: str
    flow: str
    step: str
    requester: str
    opened_at: str | None = None
    deadline: str | None = None
    # Whom the caller would decide for (an active delegation), null for their own steps: the
    # contract's shape does not say, and a stand-in needs to know.
    acting_for: str | None = None


class HistoryEvent(Model):
    """An audit event (`seq`, `hash`, `prev_hash`: a link of the approval's hash chain), or a
    decision (`Decision Recorded`, those three null: kept as its own item, sealed in the archive
    and carried into the chain by its stage's `Step Settled`)."""

    seq: int | None
    type: str
    actor: str
    acting_for: str | None = None
    at: str
    data: dict[str, Any] = {}
    hash: str | None
    prev_hash: str | None


class History(Model):
    source: Literal["table", "archive"]
    events: list[HistoryEvent]


# --- actions on an approval ----------------------------------------------------------------


class DecisionIn(Request):
    step: Name
    decision: Literal["approve", "reject"]
    comment: Annotated[str | None, Field(max_length=2000)] = None
    revision: Revision = None


class SignersIn(Request):
    step: Name
    users: Annotated[list[Name], Field(min_length=1, max_length=20)]
    position: Literal["before", "after", "parallel"]
    revision: Revision = None


class TransferIn(Request):
    step: Name
    to: Name
    revision: Revision = None


class ReturnIn(Request):
    step: Name
    to_step: Annotated[Name, Field(description='A step id, or "requester" for a resubmission')]
    revision: Revision = None


class ResubmitIn(Request):
    input: dict[str, Any]
    revision: Revision = None


class WithdrawIn(Request):
    revision: Revision = None


class RemindIn(Request):
    pass


class CommentIn(Request):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class Accepted(Model):
    status: Literal["accepted"]


def approval_out(approval: Approval) -> ApprovalOut:
    """The API view of a domain `Approval` (its `to_api()` also carries fields the contract does not list)."""
    return ApprovalOut.model_validate(approval.to_api())
