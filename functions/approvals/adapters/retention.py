"""Table side of archiving: read every item of an approval, then, once the archive is confirmed,
give them a TTL and leave a pointer to the archive that outlives them."""

from __future__ import annotations

from typing import Any

from ..domain import Conflict
from .store import Store
from .store_items import approval_pk, to_ddb

POINTER_SK = "ARCHIVE"


def approval_items(store: Store, tenant: str, approval_id: str) -> list[dict[str, Any]]:
    """The approval item, its stages and its events (plain values), in key order."""
    items = store.query_all({
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": to_ddb({":pk": approval_pk(tenant, approval_id)}),
        "ConsistentRead": True,
    })
    return [i for i in items if i.get("kind") in ("approval", "step", "event")]


def expire(store: Store, tenant: str, approval_id: str, revision: int, key: str, expires_at: int) -> None:
    """TTL on every item of a finished approval. The approval item goes first, conditional on the
    revision that was archived: a change after the archive was written keeps the items hot."""
    pk = approval_pk(tenant, approval_id)
    try:
        store.client.update_item(
            TableName=store.table_name,
            Key=to_ddb({"pk": pk, "sk": "A"}),
            UpdateExpression="SET expires_at = :t, archive_key = :k",
            ConditionExpression="revision = :rev",
            ExpressionAttributeValues=to_ddb({":t": expires_at, ":k": key, ":rev": revision}),
        )
    except store.client.exceptions.ConditionalCheckFailedException as error:
        raise Conflict(f"approval {approval_id} changed after it was archived") from error
    # The pointer has no TTL: reads of an expired approval find their way to the archive.
    store.client.put_item(
        TableName=store.table_name,
        Item=to_ddb({"pk": pk, "sk": POINTER_SK, "kind": "archive", "archive_key": key}),
    )
    for item in approval_items(store, tenant, approval_id):
        if item["sk"] == "A":
            continue
        store.client.update_item(
            TableName=store.table_name,
            Key=to_ddb({"pk": pk, "sk": item["sk"]}),
            UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues=to_ddb({":t": expires_at}),
        )


def archive_pointer(store: Store, tenant: str, approval_id: str) -> str | None:
    found = store.client.get_item(
        TableName=store.table_name,
        Key=to_ddb({"pk": approval_pk(tenant, approval_id), "sk": POINTER_SK}),
        ConsistentRead=True,
    ).get("Item")
    if not found:
        return None
    return str(found["archive_key"]["S"])
