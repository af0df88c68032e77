"""DynamoDB mechanics the store uses: one transaction with its refusals told apart, writes and
reads in batches with what DynamoDB leaves unprocessed tried again, every page of a query."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..domain import Conflict
from ..unit_of_work.ports import WriteContended
from .store_items import from_ddb, to_ddb

# Why DynamoDB cancels a transaction, or refuses a call, when trying again may succeed.
_CONTENDED = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                        "RequestLimitExceeded"})
_CONTENDED_ERRORS = frozenset({"TransactionConflictException", "ThrottlingException",
                               "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


def query_all(client: Any, table: str, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every item a query matches (all pages), as plain values."""
    kwargs: dict[str, Any] = {"TableName": table, **query}
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**kwargs)
        items += [from_ddb(i) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def transact(client: Any, items: list[dict[str, Any]], on_first: Exception, on_other: Exception | None = None) -> None:
    """One TransactWriteItems. A failed condition on the first item raises `on_first` (the
    approval or stage moved), on another item `on_other`; a conflict or throttling raises
    WriteContended (nothing was written: the same change may be tried again)."""
    clean = [{op: body for op, body in item.items() if op != "_head"} for item in items]
    try:
        client.transact_write_items(TransactItems=clean)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in _CONTENDED_ERRORS:
            raise WriteContended(f"the write was contended ({code})") from error
        if code != "TransactionCanceledException":
            raise
        reasons = error.response.get("CancellationReasons") or []
        codes = [r.get("Code") for r in reasons]
        if not codes or codes[0] == "ConditionalCheckFailed":
            raise on_first from error
        if set(codes) & _CONTENDED:
            raise WriteContended(f"the write was contended ({codes})") from error
        raise (on_other or Conflict(f"a stage changed meanwhile ({codes})")) from error


def write_batched(client: Any, table: str, writes: Sequence[Mapping[str, Any]]) -> None:
    """Puts and Deletes (transaction shape) in batches of 25, what DynamoDB leaves unprocessed again."""
    requests = [{"PutRequest": {"Item": w["Put"]["Item"]}} if "Put" in w
                else {"DeleteRequest": {"Key": w["Delete"]["Key"]}} for w in writes]
    for i in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[i:i + 25]}
        for attempt in range(16):
            left = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not left:
                break
            pending = left
            time.sleep(random.uniform(0, min(0.4, 0.01 * 2 ** attempt)))
        else:
            raise WriteContended("the inbox entries could not all be written")


def statuses(client: Any, table: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    wanted = sorted(keys)
    found: dict[tuple[str, str], str] = {}
    for i in range(0, len(wanted), 100):
        request: dict[str, Any] = {table: {
            "Keys": [to_ddb({"pk": pk, "sk": sk}) for pk, sk in wanted[i:i + 100]],
            "ProjectionExpression": "pk, sk, #st", "ExpressionAttributeNames": {"#st": "status"},
            "ConsistentRead": True}}
        while request:
            page = client.batch_get_item(RequestItems=request)
            for item in page.get("Responses", {}).get(table, []):
                plain = from_ddb(item)
                found[(plain["pk"], plain["sk"])] = str(plain.get("status"))
            request = page.get("UnprocessedKeys") or {}
            if request:
                time.sleep(random.uniform(0, 0.05))
    return found
