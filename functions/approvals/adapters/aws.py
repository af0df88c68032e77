"""One boto3 client per service, created on first use and reused across warm invocations."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def client(service: str) -> Any:
    """A cached client; the cache key includes region and endpoint so a local stack that points
    `AWS_ENDPOINT_URL` somewhere else gets its own client instead of a stale one."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint)
    with _lock:  # boto3's default session is not thread-safe; Parallel branches run handlers in threads
        found = _clients.get(key)
        if found is None:
            found = boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG)
            if service == "dynamodb":
                recognise_own_puts(found)
            _clients[key] = found
        return found


def clear() -> None:
    """Forget cached clients (tests that restart a mock start from scratch)."""
    with _lock:
        _clients.clear()


# --- a conditional PutItem the SDK sent again after losing its answer ------------------------------
#
# When the answer to a PutItem is lost (the read timeout fired, the connection closed), the SDK
# sends the same request again, and the caller never knows. If the first attempt was applied, the
# repeat of a conditional put ("only if absent") fails its own condition: the caller is told
# ConditionalCheckFailed for the item it just wrote. powertools' idempotency layer (a keyed start,
# api/flows.py) then takes its own INPROGRESS record for another request's and answers 409.
# TransactWriteItems needs none of this: botocore gives it a ClientRequestToken, the same on every
# attempt, and DynamoDB answers the repeat success. So: when an attempt of this call lost its
# answer and a later one is refused with the old item (ReturnValuesOnConditionCheckFailure=ALL_OLD)
# equal to the item this call puts, the call succeeded: its answer is success.

_SENT = "approvals.put_item"
_LOST = "approvals.answer_lost"


def recognise_own_puts(ddb: Any) -> None:
    """Make `ddb` (a DynamoDB client) answer success to a conditional PutItem whose retry found
    exactly the item it writes, after an attempt whose answer was lost."""
    events = ddb.meta.events
    events.register("before-parameter-build.dynamodb.PutItem", _note_sent, unique_id=_SENT)
    events.register("response-received.dynamodb.PutItem", _note_lost, unique_id=_LOST)
    events.register("after-call.dynamodb.PutItem", _own_put_succeeded, unique_id="approvals.own_put")


def _note_sent(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if params.get("ConditionExpression") and params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
        context[_SENT] = params.get("Item")


def _note_lost(context: dict[str, Any], exception: Exception | None = None, **_: Any) -> None:
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    if isinstance(exception, ReadTimeoutError | ConnectionClosedError):  # sent, maybe applied, answer lost
        context[_LOST] = True


def _own_put_succeeded(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    sent = context.get(_SENT)
    if sent is None or not context.get(_LOST) or http_response is None:
        return
    if parsed.get("Error", {}).get("Code") != "ConditionalCheckFailedException" or not _same(parsed.get("Item"), sent):
        return
    metadata = parsed.get("ResponseMetadata", {})
    parsed.clear()  # PutItem's answer without ReturnValues: no attributes
    parsed["ResponseMetadata"] = {**metadata, "HTTPStatusCode": 200}
    http_response.status_code = 200  # what botocore reads to raise or return


def _same(found: Any, sent: Any) -> bool:
    from boto3.dynamodb.types import TypeDeserializer

    if not isinstance(found, dict) or not isinstance(sent, dict) or found.keys() != sent.keys():
        return False
    plain = TypeDeserializer().deserialize
    return all(plain(found[k]) == plain(sent[k]) for k in sent)
