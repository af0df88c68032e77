"""Stop moto from keeping every model object it ever made, so the local stack's memory stays flat.

moto's `BaseModel.__new__` appends each instance of every model class to `cls.instances_tracked`,
for its dashboard (`/moto-api/data.json`), and empties those lists only when the mock is reset.
DynamoDB's `Item` and `Table` are such models, and moto makes them all the time: a new `Item` for
every put, a deep copy of the item for every update, and (moto's TransactWriteItems, before
local/moto_transactions.py) a deep copy of the whole table for every item of a transaction, since
`copy.deepcopy` creates objects through `__new__`. Replaced, updated and copied items stay reachable
from those lists forever: before this, the local stack grew by tens of MB per finished approval
(docs/performance.md). While installed, `__new__` tracks only the two classes moto itself reads the
lists of (S3's `FakeKey` and `FakeMultipart`, whose temporary files `S3Backend.reset` closes
through them); the dashboard lists no other instances.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import BaseModel

# moto's S3 reset closes the temporary files of these through `instances_tracked`.
_STILL_TRACKED = frozenset({"FakeKey", "FakeMultipart"})
_original: Any = None


def _new(cls: Any, *args: Any, **kwargs: Any) -> Any:
    instance = object.__new__(cls)  # what moto's `super().__new__(cls)` is
    if cls.__name__ in _STILL_TRACKED:
        cls.instances_tracked.append(instance)
    return instance


def install() -> None:
    """Idempotent."""
    global _original
    if _original is None:
        _original = BaseModel.__dict__["__new__"]
        BaseModel.__new__ = staticmethod(_new)  # type: ignore[method-assign]


def uninstall() -> None:
    global _original
    if _original is not None:
        BaseModel.__new__ = _original  # type: ignore[method-assign]
        _original = None


def tracked() -> int:
    """How many model instances moto's lists hold now (for tests)."""
    from moto.core.model_instances import model_data

    return sum(len(getattr(model, "instances_tracked", ())) for models in model_data.values()
               for model in models.values())


__all__ = ["install", "tracked", "uninstall"]
