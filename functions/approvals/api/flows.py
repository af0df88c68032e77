"""`/flows`: what a tenant member can start, a dry run of one, and starting one."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path

from ..commands import start as start_command
from ..domain import Conflict, InvalidInput
from ..queries import approval as approval_query
from ..queries import flows as flows_query
from ..queries.preview import preview as preview_path
from ..settings import settings
from .deps import caller, new_router
from .identity import Caller
from .models import ApprovalOut, FlowSummary, InputBody, Preview, approval_out, documented
from .telemetry import count, logger

router = new_router()

FlowName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="The same key again (same caller, same body) returns the same approval"),
]
# A repeated POST is recognised for a day; after that the same key starts a new approval.
IDEMPOTENCY_SECONDS = 24 * 3600



@router.get("/flows", tags=["flows"], summary="The flows a tenant member can start",
            responses=documented(200, "the flows, latest version of each"))
def list_flows(who: Annotated[Caller, Depends(caller)]) -> list[FlowSummary]:
    return [FlowSummary.model_validate(f) for f in flows_query.list_flows(who.tenant)]


@router.post("/flows/<flow>/preview", tags=["flows"], summary="The steps this input would run; nothing is started",
             responses=documented(200, "each step, whether it runs, and who would be asked", 404, body=True))
def preview(flow: FlowName, body: Annotated[InputBody, Body()], who: Annotated[Caller, Depends(caller)]) -> Preview:
    return Preview.model_validate({"steps": preview_path(who.tenant, flow, who.user, body.input)})


def _start(request: dict[str, Any]) -> dict[str, Any]:
    approval_id = start_command.start_approval(request["tenant"], request["flow"], None, request["user"],
                                               request["input"])
    return {"approval_id": approval_id}


@lru_cache(maxsize=1)
def _idempotency() -> Any:
    """powertools' idempotency config, hashed over tenant, caller and key (another caller's equal key
    is another request). powertools' idempotency package imports boto3 as it loads: only a keyed
    start needs it, so it is imported then, not with the function."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[tenant, user, key]", payload_validation_jmespath="[flow, input]",
        expires_after_seconds=IDEMPOTENCY_SECONDS, raise_on_no_idempotency_key=True,
    )


@lru_cache(maxsize=256)
def _idempotent_start(tenant: str, table_name: str, client: Any) -> Callable[..., Any]:
    """`_start` behind powertools' idempotency record, kept in the approvals table under the
    tenant's own partition (every key starts with the tenant; powertools' DynamoDB layer has one
    fixed partition key, so one layer per tenant). Built on the first keyed start of that tenant
    in this container and reused after; nothing is built at import. The table and the client are
    part of the key only for the local stack, where they change between stacks in one process."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="pk", sort_key_attr="sk",
        static_pk_value=f"T#{tenant}#IDEMPOTENCY", expiry_attr="expires_at", boto3_client=client,
    )
    once: Callable[..., Any] = idempotent_function(_start, data_keyword_argument="request",
                                                   persistence_store=persistence, config=_idempotency())
    return once


def _start_once(request: dict[str, Any]) -> dict[str, Any]:
    """`_start` once per Idempotency-Key; powertools' refusals become the domain's (409, 400)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    from ..adapters import aws

    once = _idempotent_start(request["tenant"], settings().require("table_name"), aws.client("dynamodb"))
    _idempotency().register_lambda_context(router.lambda_context)  # this invocation's remaining time
    try:
        result: dict[str, Any] = once(request=request)
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict("a request with this Idempotency-Key is still running") from error
    except IdempotencyValidationError as error:
        raise InvalidInput("this Idempotency-Key was used for another request",
                           [{"field": "Idempotency-Key", "problem": "already used with a different body"}]) from error
    return result


@router.post("/flows/<flow>/approvals", status_code=201, tags=["approvals"],
             summary="Start an approval (the caller becomes the requester)",
             responses=documented(201, "the approval, just started", 404, 409, body=True))
def start(
    flow: FlowName,
    body: Annotated[InputBody, Body()],
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: IdempotencyKey = None,
) -> ApprovalOut:
    request = {"tenant": who.tenant, "user": who.user, "flow": flow, "input": body.input, "key": idempotency_key}
    started = (_start_once if idempotency_key else _start)(request)
    logger.append_keys(approval_id=started["approval_id"])
    count("ApprovalStarted")
    return approval_out(approval_query.get_approval(who.tenant, started["approval_id"], who.user))
