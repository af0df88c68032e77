"""A flow's conditions as the manifest carries them (serialized trees), and their meaning.

`evaluate` is the reference meaning the compiled Choice rules must have: preview (the API's and
the CLI's) evaluates these trees, and a property test runs the compiled Choice rules against it.
Semantics (the Choice rules', not CEL's): an atom that reads a field (a comparison, `in`, a
method, a bare boolean field) is false when any field it reads is absent; `has(x)` is true iff x
is present; `not`, `and`, `or` combine atoms as usual. A present value of the wrong JSON type
never matches (and never raises), e.g. `days > 3` is false when days is "x".

A field is a path; its first name `requester` reads the execution's requester, any other path
is read from `input`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic import Field as PydanticField

REQUESTER = "requester"
Value = StrictStr | StrictBool | StrictInt | StrictFloat | None
Path = tuple[StrictStr, ...]
CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class FieldRef(_Node):
    field: Path


class Constant(_Node):
    value: Value


Operand = FieldRef | Constant


class Compare(_Node):
    op: CompareOp
    left: Operand
    right: Operand


class InList(_Node):
    op: Literal["in"]
    field: Path
    values: tuple[Value, ...]


class Has(_Node):
    op: Literal["has"]
    field: Path


class IsTrue(_Node):
    """A bare field used as a condition (`urgent`): `urgent == true`."""

    op: Literal["true"]
    field: Path


class Method(_Node):
    op: Literal["startsWith", "endsWith", "contains"]
    field: Path
    arg: StrictStr


class Not(_Node):
    op: Literal["not"]
    arg: Condition


class And(_Node):
    op: Literal["and"]
    args: tuple[Condition, Condition]


class Or(_Node):
    op: Literal["or"]
    args: tuple[Condition, Condition]


Condition = Annotated[Compare | InList | Has | IsTrue | Method | Not | And | Or, PydanticField(discriminator="op")]

def fields_read(cond: Condition) -> Iterator[Path]:
    """Every field path `cond` reads (the state must carry them for its Choice rule)."""
    if isinstance(cond, Compare):
        yield from (side.field for side in (cond.left, cond.right) if isinstance(side, FieldRef))
    elif isinstance(cond, InList | Has | IsTrue | Method):
        yield cond.field
    elif isinstance(cond, Not):
        yield from fields_read(cond.arg)
    else:
        for arg in cond.args:
            yield from fields_read(arg)


_MISSING = object()
_ORDER: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                  ">=": operator.ge}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _kind(value: Any) -> str:
    """The JSON type a Choice rule can test for (IsNull/IsBoolean/IsNumeric/IsString)."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a JSON boolean is not a number
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "other"


def _read(path: Path, context: Mapping[str, Any]) -> Any:
    """The field's value, or _MISSING; a step through a non-object finds nothing (as JSONPath does)."""
    node: Any = context if path[0] == REQUESTER else context.get("input", _MISSING)
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _equal(a: Any, b: Any) -> bool:
    """Equality as the typed Choice operators see it: only values of one JSON scalar type are ever equal."""
    kind = _kind(a)
    return kind != "other" and kind == _kind(b) and a == b


def _compare(cond: Compare, context: Mapping[str, Any]) -> bool:
    op: str = cond.op
    left, right = cond.left, cond.right
    if isinstance(left, Constant):
        if isinstance(right, Constant):
            raise ValueError("condition compares two constants")
        op, left, right = _FLIP[op], right, left
    a = _read(left.field, context)
    b = _read(right.field, context) if isinstance(right, FieldRef) else right.value
    if a is _MISSING or b is _MISSING:
        return False
    if op in _ORDER:
        if isinstance(right, Constant) and _kind(b) not in ("number", "string"):
            raise ValueError(f"cannot use '{op}' with {b!r}")
        kind = _kind(a)
        return kind in ("number", "string") and kind == _kind(b) and _ORDER[op](a, b)
    return _equal(a, b) == (op == "==")


def evaluate(cond: Condition, context: Mapping[str, Any]) -> bool:
    """Evaluate a condition against `{"input": {...}, "requester": "..."}`."""
    if isinstance(cond, And):
        return evaluate(cond.args[0], context) and evaluate(cond.args[1], context)
    if isinstance(cond, Or):
        return evaluate(cond.args[0], context) or evaluate(cond.args[1], context)
    if isinstance(cond, Not):
        return not evaluate(cond.arg, context)
    if isinstance(cond, Compare):
        return _compare(cond, context)
    value = _read(cond.field, context)
    if isinstance(cond, Has):
        return value is not _MISSING
    if value is _MISSING:
        return False
    if isinstance(cond, IsTrue):
        return value is True
    if isinstance(cond, InList):
        return any(_equal(value, literal) for literal in cond.values)
    if not isinstance(value, str):
        return False
    if cond.op == "startsWith":
        return value.startswith(cond.arg)
    if cond.op == "endsWith":
        return value.endswith(cond.arg)
    return cond.arg in value
