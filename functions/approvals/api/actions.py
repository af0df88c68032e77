"""Acting on an approval: decide, add signers, transfer, return, resubmit, withdraw, remind, comment.

Each route is the service call with the caller from the verified identity; an optional
`revision` in the body makes the write conditional on it (409 when the approval moved on).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body

from ..commands import add_signers as add_signers_command
from ..commands import comment as comment_command
from ..commands import decide as decide_command
from ..commands import remind as remind_command
from ..commands import resubmit as resubmit_command
from ..commands import return_step as return_step_command
from ..commands import transfer as transfer_command
from ..commands import withdraw as withdraw_command
from .approvals import ApprovalId
from .deps import caller, new_router
from .identity import Caller
from .models import (
    Accepted,
    ApprovalOut,
    CommentIn,
    DecisionIn,
    RemindIn,
    ResubmitIn,
    ReturnIn,
    SignersIn,
    TransferIn,
    WithdrawIn,
    approval_out,
    documented,
)
from .telemetry import count, decision_latency

router = new_router()
Who = Annotated[Caller, Depends(caller)]
CHANGED = documented(200, "the approval after the change", 403, 404, 409, body=True)


@router.post("/approvals/<approval_id>/decisions", tags=["actions"], summary="Approve or reject the open step",
             responses=CHANGED)
def decide(approval_id: ApprovalId, body: Annotated[DecisionIn, Body()], who: Who) -> ApprovalOut:
    approval = decide_command.decide(who.tenant, approval_id, body.step, who.user, body.decision, body.comment,
                              revision=body.revision)
    count("DecisionRecorded")
    decision_latency(approval, body.step)
    return approval_out(approval)


@router.post("/approvals/<approval_id>/signers", tags=["actions"],
             summary="Add signers before, after or alongside the caller (if the step allows add_signer)",
             responses=CHANGED)
def add_signers(approval_id: ApprovalId, body: Annotated[SignersIn, Body()], who: Who) -> ApprovalOut:
    return approval_out(add_signers_command.add_signers(who.tenant, approval_id, body.step, who.user, body.users,
                                                        body.position, revision=body.revision))


@router.post("/approvals/<approval_id>/transfer", tags=["actions"],
             summary="Hand the caller's part of the step to someone else (if the step allows transfer)",
             responses=CHANGED)
def transfer(approval_id: ApprovalId, body: Annotated[TransferIn, Body()], who: Who) -> ApprovalOut:
    return approval_out(transfer_command.transfer(who.tenant, approval_id, body.step, who.user, body.to,
                                         revision=body.revision))


@router.post("/approvals/<approval_id>/return", tags=["actions"],
             summary='Send the approval back to an earlier step, or to "requester" (if the step allows return)',
             responses=CHANGED)
def return_step(approval_id: ApprovalId, body: Annotated[ReturnIn, Body()], who: Who) -> ApprovalOut:
    return approval_out(return_step_command.return_step(who.tenant, approval_id, body.step, who.user, body.to_step,
                                            revision=body.revision))


@router.post("/approvals/<approval_id>/resubmit", tags=["actions"],
             summary="The requester answers a return with new input", responses=CHANGED)
def resubmit(approval_id: ApprovalId, body: Annotated[ResubmitIn, Body()], who: Who) -> ApprovalOut:
    return approval_out(resubmit_command.resubmit(who.tenant, approval_id, who.user, body.input,
                                                  revision=body.revision))


@router.post("/approvals/<approval_id>/withdraw", tags=["actions"], summary="The requester withdraws the approval",
             responses=CHANGED)
def withdraw(approval_id: ApprovalId, who: Who, body: Annotated[WithdrawIn | None, Body()] = None) -> ApprovalOut:
    revision = body.revision if body else None
    return approval_out(withdraw_command.withdraw(who.tenant, approval_id, who.user, revision=revision))


@router.post("/approvals/<approval_id>/remind", status_code=202, tags=["actions"],
             summary="The requester nudges the people the open steps wait for",
             responses=documented(202, "reminders are on their way", 403, 404, 409, 429, body=True))
def remind(approval_id: ApprovalId, who: Who, body: Annotated[RemindIn | None, Body()] = None) -> Accepted:
    remind_command.remind(who.tenant, approval_id, who.user)
    return Accepted(status="accepted")


@router.post("/approvals/<approval_id>/comments", status_code=201, tags=["actions"],
             summary="A comment by the requester or an assignee, kept in the audit trail",
             responses=documented(201, "the comment as recorded", 403, 404, body=True))
def add_comment(approval_id: ApprovalId, body: Annotated[CommentIn, Body()], who: Who) -> dict[str, Any]:
    return comment_command.comment(who.tenant, approval_id, who.user, body.text)
