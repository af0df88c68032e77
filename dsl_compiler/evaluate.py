"""Reference evaluator for conditions: the meaning the compiled Choice rules must have.

Kept deliberately independent of `choice.py` so the two can be tested against each other.
Semantics (the Choice rules' semantics, not CEL's): an atom that reads a field (a comparison,
`in`, a method, a bare boolean field) is false when any field it reads is absent; `has(x)` is
true iff x is present; `!`, `&&`, `||` combine atoms as usual. A present value of the wrong
JSON type never matches (and never raises), e.g. `days > 3` is false when days is "x".
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from dsl_compiler.conditions import (
    REQUESTER,
    And,
    Compare,
    Expr,
    Field,
    Has,
    In,
    IsTrue,
    Literal,
    Method,
    Not,
    Or,
)

_MISSING = object()
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
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


def _read(field: Field, context: Mapping[str, Any]) -> Any:
    """The field's value, or _MISSING; a step through a non-object finds nothing (as JSONPath does)."""
    node: Any = context if field.path[0] == REQUESTER else context.get("input", _MISSING)
    for key in field.path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _equal(a: Any, b: Any) -> bool:
    """Equality as the typed Choice operators see it: only values of one JSON scalar type are ever equal."""
    kind = _kind(a)
    return kind != "other" and kind == _kind(b) and a == b


def _order(op: str, a: Any, b: Any) -> bool:
    kind = _kind(a)
    return kind in ("number", "string") and kind == _kind(b) and _ORDER[op](a, b)


def _compare(expr: Compare, context: Mapping[str, Any]) -> bool:
    op: str = expr.op
    left, right = expr.left, expr.right
    if isinstance(left, Literal):
        if isinstance(right, Literal):
            raise ValueError("condition compares two constants")
        op, left, right = _FLIP[op], right, left
    a = _read(left, context)
    b = _read(right, context) if isinstance(right, Field) else right.value
    if a is _MISSING or b is _MISSING:
        return False
    if op in _ORDER:
        if isinstance(right, Literal) and _kind(b) not in ("number", "string"):
            raise ValueError(f"cannot use '{op}' with {b!r}")
        return _order(op, a, b)
    return _equal(a, b) == (op == "==")


def evaluate(expr: Expr, context: Mapping[str, Any]) -> bool:
    """Evaluate a parsed, checked condition against `{"input": {...}, "requester": "..."}`."""
    if isinstance(expr, And):
        return evaluate(expr.left, context) and evaluate(expr.right, context)
    if isinstance(expr, Or):
        return evaluate(expr.left, context) or evaluate(expr.right, context)
    if isinstance(expr, Not):
        return not evaluate(expr.expr, context)
    if isinstance(expr, Compare):
        return _compare(expr, context)
    value = _read(expr.field, context)
    if isinstance(expr, Has):
        return value is not _MISSING
    if value is _MISSING:
        return False
    if isinstance(expr, IsTrue):
        return value is True
    if isinstance(expr, In):
        return any(_equal(value, lit.value) for lit in expr.values)
    assert isinstance(expr, Method)
    if not isinstance(value, str):
        return False
    if expr.name == "startsWith":
        return value.startswith(expr.arg)
    if expr.name == "endsWith":
        return value.endswith(expr.arg)
    return expr.arg in value
