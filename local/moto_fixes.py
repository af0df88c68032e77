"""Where moto is less strict than AWS in a way our guarantees depend on, make it as strict.

DynamoDB evaluates a condition and applies the write atomically; a transaction is all-or-nothing
and isolated. moto checks and writes in plain Python with no lock, so two threads (two approvers,
two Parallel branches) can both pass the same `revision = :rev` condition. One lock around moto's
operations restores what the revision check relies on; reads take it too, since moto updates items
in place and a query iterating an item while a write changes it fails ("dictionary changed size").
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_READS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")
_lock = threading.RLock()
_originals: dict[str, Any] = {}


def install() -> None:
    """Idempotent."""
    for name in _WRITES + _READS:
        if name in _originals or not hasattr(DynamoDBBackend, name):
            continue
        original = getattr(DynamoDBBackend, name)
        _originals[name] = original

        @functools.wraps(original)
        def locked(self: Any, *args: Any, _wrapped: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return _wrapped(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


def uninstall() -> None:
    for name, original in _originals.items():
        setattr(DynamoDBBackend, name, original)
    _originals.clear()
