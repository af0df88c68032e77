"""Compile a checked condition to an ASL Choice rule (JSONPath query language, without `Next`).

The rule means exactly what `evaluate.evaluate` computes:
- every atom that reads fields is `{"And": [IsPresent per field..., <test>]}`. AWS fails the
  execution (States.Runtime) when a comparison reads a missing path, and `And` stops at the
  first false rule, so the presence tests must come first;
- every typed comparison is guarded by IsNumeric/IsString/IsBoolean, so a value of another JSON
  type is simply "no match" (a *Path comparison against a value of the wrong type fails the
  execution, and a bare Numeric* test on a string is not something to rely on);
- `!=` negates the equality *inside* the presence And: an absent field is not "different".
Field-vs-field comparisons do not know the fields' types here, so they try each JSON type.
"""

from __future__ import annotations

from typing import Any

from dsl_compiler.conditions import (
    REQUESTER,
    And,
    Compare,
    CompareOp,
    Expr,
    Field,
    Has,
    In,
    IsTrue,
    Literal,
    LiteralValue,
    Method,
    Not,
    Or,
    literal_kind,
    lower,
)
from dsl_compiler.paths import input_path, json_path

Rule = dict[str, Any]

_IS = {"number": "IsNumeric", "string": "IsString", "boolean": "IsBoolean"}
_PREFIX = {"number": "Numeric", "string": "String", "boolean": "Boolean"}
_SUFFIX = {"==": "Equals", "<": "LessThan", "<=": "LessThanEquals", ">": "GreaterThan", ">=": "GreaterThanEquals"}
_FLIP: dict[CompareOp, CompareOp] = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def variable(field: Field) -> str:
    """The JSONPath of a field in the execution input (see docs/state-machine-contract.md)."""
    return json_path("$", field.path) if field.path[0] == REQUESTER else input_path(field.path)


def string_matches_pattern(prefix: str, text: str, suffix: str) -> str:
    """A StringMatches pattern: in ASL only `*` is special, and `\\` escapes `*` and `\\`."""
    return prefix + text.replace("\\", "\\\\").replace("*", "\\*") + suffix


def _all(rules: list[Rule]) -> Rule:
    return rules[0] if len(rules) == 1 else {"And": rules}


def _atom(fields: list[Field], tests: list[Rule]) -> Rule:
    present: list[Rule] = []
    for v in dict.fromkeys(variable(f) for f in fields):  # one IsPresent per field, in text order
        present.append({"Variable": v, "IsPresent": True})
    return {"And": present + tests}


def _equals_literal(v: str, value: LiteralValue) -> list[Rule]:
    kind = literal_kind(value)
    if kind == "null":
        return [{"Variable": v, "IsNull": True}]
    return [{"Variable": v, _IS[kind]: True}, {"Variable": v, _PREFIX[kind] + "Equals": value}]


def _in(v: str, values: list[LiteralValue]) -> list[Rule]:
    """`x in [...]`: one type test per JSON type listed, then an Or of that type's equals."""
    by_kind: dict[str, list[LiteralValue]] = {}
    for value in values:
        by_kind.setdefault(literal_kind(value), []).append(value)
    groups: list[list[Rule]] = []
    for kind, same in by_kind.items():
        if kind == "null":
            groups.append([{"Variable": v, "IsNull": True}])
        else:
            equals = [{"Variable": v, _PREFIX[kind] + "Equals": value} for value in same]
            groups.append([{"Variable": v, _IS[kind]: True}, equals[0] if len(equals) == 1 else {"Or": equals}])
    return groups[0] if len(groups) == 1 else [{"Or": [_all(group) for group in groups]}]


def _field_vs_literal(op: CompareOp, field: Field, value: LiteralValue) -> Rule:
    v = variable(field)
    if op == "==":
        return _atom([field], _equals_literal(v, value))
    if op == "!=":
        return _atom([field], [{"Not": _all(_equals_literal(v, value))}])
    kind = literal_kind(value)
    if kind not in ("number", "string"):
        raise ValueError(f"cannot use '{op}' with {kind} (run check first)")
    return _atom([field], [{"Variable": v, _IS[kind]: True}, {"Variable": v, _PREFIX[kind] + _SUFFIX[op]: value}])


def _field_vs_field(op: CompareOp, left: Field, right: Field) -> Rule:
    a, b = variable(left), variable(right)
    kinds = ("number", "string") if op not in ("==", "!=") else ("number", "string", "boolean")
    base = "==" if op == "!=" else op
    variants: list[Rule] = [
        {
            "And": [
                {"Variable": a, _IS[k]: True},
                {"Variable": b, _IS[k]: True},
                {"Variable": a, _PREFIX[k] + _SUFFIX[base] + "Path": b},
            ]
        }
        for k in kinds
    ]
    if base == "==":
        variants.append({"And": [{"Variable": a, "IsNull": True}, {"Variable": b, "IsNull": True}]})
    test: Rule = {"Or": variants}
    return _atom([left, right], [{"Not": test} if op == "!=" else test])


def _compare(expr: Compare) -> Rule:
    op, left, right = expr.op, expr.left, expr.right
    if isinstance(left, Literal):
        if isinstance(right, Literal):
            raise ValueError("condition compares two constants (run check first)")
        op, left, right = _FLIP[op], right, left
    assert isinstance(left, Field)  # lowered: a condition compared is gone
    if isinstance(right, Field):
        return _field_vs_field(op, left, right)
    return _field_vs_literal(op, left, right.value)


def _flatten(expr: Expr, kind: type[And] | type[Or]) -> list[Rule]:
    if isinstance(expr, kind):
        return _flatten(expr.left, kind) + _flatten(expr.right, kind)
    return [_rule(expr)]


def to_choice_rule(expr: Expr) -> Rule:
    """An ASL Choice rule (no `Next`) true exactly when `evaluate(expr, execution_input)` is."""
    return _rule(lower(expr))


def _rule(expr: Expr) -> Rule:
    if isinstance(expr, And):
        return {"And": _flatten(expr, And)}
    if isinstance(expr, Or):
        return {"Or": _flatten(expr, Or)}
    if isinstance(expr, Not):
        return {"Not": _rule(expr.expr)}
    if isinstance(expr, Compare):
        return _compare(expr)
    if isinstance(expr, In):
        assert isinstance(expr.left, Field)  # lowered
        return _atom([expr.left], _in(variable(expr.left), [lit.value for lit in expr.values]))
    v = variable(expr.field)
    if isinstance(expr, Has):
        return {"Variable": v, "IsPresent": True}
    if isinstance(expr, IsTrue):
        return _atom([expr.field], [{"Variable": v, "IsBoolean": True}, {"Variable": v, "BooleanEquals": True}])
    assert isinstance(expr, Method)
    pattern = {
        "startsWith": string_matches_pattern("", expr.arg, "*"),
        "endsWith": string_matches_pattern("*", expr.arg, ""),
        "contains": string_matches_pattern("*", expr.arg, "*"),
    }[expr.name]
    return _atom([expr.field], [{"Variable": v, "IsString": True}, {"Variable": v, "StringMatches": pattern}])
