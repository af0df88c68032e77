"""TransactWriteItems in moto that costs what it touches, not what the table holds.

moto 5.2.5 (`DynamoDBBackend.transact_write_items`) deep-copies the whole table once per item of
the transaction to be able to roll back, so every transaction costs O(items in the table) and the
suite and the demo slow down as the table fills. This replacement keeps moto's own loop (the same
checks in the same order, the same errors, `CancellationReasons` one per item: the failure's code
for the items that failed, `None` for the others) and saves only what each write is about to
change: a copy of the item it replaces, updates or deletes (or that there was none), the order of
its partition before a delete (of a table without a sort key, the table's keys: references, not
copies), and the length of the table's stream. A failed transaction puts exactly that back, so it
stays all-or-nothing. The atomicity across threads is local/moto_fixes.py's
lock, which wraps this method like moto's own (install this first).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_original: Any = None

_MISSING = object()


@dataclass
class _Undo:
    """What the writes of one transaction changed, to put back if it is cancelled."""

    # (partition dict, key in it, item copy or _MISSING), in the order the writes ran.
    items: list[tuple[dict[Any, Any], Any, Any]] = field(default_factory=list)
    # Partitions whose key order a delete changes: (partition, keys in order before the first delete).
    orders: list[tuple[dict[Any, Any], list[Any]]] = field(default_factory=list)
    # Hash keys of range-key tables that had no partition before (moto's defaultdict makes one on lookup).
    new_partitions: list[tuple[Table, DynamoType]] = field(default_factory=list)
    streams: dict[int, tuple[Any, list[Any], int]] = field(default_factory=dict)

    def save(self, table: Table, key: dict[str, Any], deleting: bool) -> None:
        hash_key = DynamoType(key[table.hash_key_attr])
        if table.range_key_attr is not None:
            if hash_key not in table.items:
                self.new_partitions.append((table, hash_key))
            partition: dict[Any, Any] = table.items[hash_key]
            slot: Any = DynamoType(key[table.range_key_attr])
        else:
            partition, slot = table.items, hash_key
        current = partition.get(slot)
        # A copy: an update changes the item in place.
        self.items.append((partition, slot, _MISSING if current is None else copy.deepcopy(current)))
        if deleting and current is not None and all(saved is not partition for saved, _ in self.orders):
            self.orders.append((partition, list(partition)))
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.streams:
            self.streams[id(shard)] = (shard, shard.items, len(shard.items))

    def restore(self) -> None:
        for partition, slot, saved in reversed(self.items):
            if saved is _MISSING:
                partition.pop(slot, None)
            else:
                partition[slot] = saved
        for partition, order in self.orders:
            # A re-inserted item would otherwise come last in scans, where it was not before.
            entries = dict(partition)
            partition.clear()
            partition.update((k, entries.pop(k)) for k in order if k in entries)
            partition.update(entries)
        for table, hash_key in self.new_partitions:
            if not table.items.get(hash_key, True):
                del table.items[hash_key]
        for shard, records, length in self.streams.values():
            del records[length:]  # the cancelled writes' stream records
            shard.items = records


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's `transact_write_items`, with `_Undo` in place of a deep copy of every table."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                undo.save(self.get_table(table_name), key, deleting=op_type == "Delete")
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # as moto: any other failure is that item's cancellation reason
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    if any(code is not None for code, _, _ in errors):
        undo.restore()
        raise TransactionCanceledException(errors)


def install() -> None:
    """Idempotent. Before local/moto_fixes.install(), so that its lock wraps this."""
    global _original
    if _original is None:
        _original = DynamoDBBackend.transact_write_items
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def uninstall() -> None:
    """After local/moto_fixes.uninstall(); before it, this leaves moto_fixes' wrapper of it in place."""
    global _original
    if _original is not None and DynamoDBBackend.transact_write_items is transact_write_items:
        DynamoDBBackend.transact_write_items = _original  # type: ignore[method-assign]
        _original = None


__all__ = ["install", "transact_write_items", "uninstall"]
