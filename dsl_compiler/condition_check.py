"""Type-checking a parsed condition (spec "Conditions", CEL's typing for the subset), and `lower`,
which writes comparisons of conditions (`has(x) == false`) as the plain conditions they are, so
that the Choice rules (choice.py), the manifest's trees (spec.py) and with them the evaluator all
see the same core tree."""

from __future__ import annotations

from .condition_nodes import (
    INT64,
    KINDS,
    ORDERING_OPS,
    REQUESTER,
    And,
    Compare,
    ConditionError,
    Expr,
    Field,
    FieldTypes,
    Has,
    In,
    IsTrue,
    Literal,
    Method,
    Not,
    Operand,
    Or,
    describe_literal,
    literal_kind,
)

_Side = tuple[str | None, str]  # (JSON kind, or None when unknown; words for messages)


def _is_condition(value: Operand | Expr) -> bool:
    return not isinstance(value, Field | Literal)


class _Checker:
    def __init__(self, fields: FieldTypes) -> None:
        self.fields = fields
        self.errors: list[ConditionError] = []

    def error(self, message: str, offset: int) -> None:
        self.errors.append(ConditionError(message, offset))

    def field(self, field: Field) -> _Side:
        """Kind None: nothing more to check (undeclared, already reported, or inside an object)."""
        name = field.path[0]
        declared = "string" if name == REQUESTER else self.fields.get(name)
        if declared is None:
            self.error(f"unknown field '{name}' (declare it under input)", field.offset)
            return None, ""
        if len(field.path) > 1:
            if declared != "object":
                self.error(f"{declared} field '{name}' has no field '{field.path[1]}'", field.offset)
            return None, ""
        kind = {"integer": "number"}.get(declared, declared)
        return (kind if kind in KINDS else None), f"{declared} field '{name}'"

    def side(self, operand: Operand) -> _Side:
        if isinstance(operand, Field):
            return self.field(operand)
        value = operand.value
        if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "..."
            self.error(f"integer {shown} is out of range: CEL integers are 64-bit (add '.0' for a double)",
                       operand.offset)
        return literal_kind(value), describe_literal(value)

    def compare(self, op: str, a: _Side, b: _Side, offset: int) -> None:
        """`a` is a field; `b` a field or a literal."""
        if "null" in (a[0], b[0]):
            if op in ORDERING_OPS:  # `x == null` asks whether a present value is null: fine for any field
                self.error(f"cannot use '{op}' with null", offset)
        elif a[0] is not None and b[0] is not None and a[0] != b[0]:
            self.error(f"cannot compare {a[1]} with {b[1]}", offset)
        else:
            allowed = ("number", "string") if op in ORDERING_OPS else ("number", "string", "boolean")
            bad = next((side for side in (a, b) if side[0] is not None and side[0] not in allowed), None)
            if bad is not None:
                self.error(f"cannot use '{op}' with {bad[1]}", offset)

    def negated_value(self, expr: Expr, op: str) -> bool:
        """`!n > 1` on a number n: one error saying what the precedence made of it (CEL refuses `!n`)."""
        inner = expr
        while isinstance(inner, Not):
            inner = inner.expr
        if inner is expr or not isinstance(inner, IsTrue):
            return False
        kind, words = self.field(inner.field)
        if kind in (None, "boolean"):
            return False
        self.error(f"'!' applies to {words} alone, not to the '{op}' after it ('!' binds tighter, as in CEL), "
                   f"and {words} is not a boolean: write '!(...)' around the comparison", expr.offset)
        return True

    def condition_vs(self, op: str, condition: Expr, other: Operand, offset: int) -> None:
        """A condition compared (`has(x) == false`): with true or false only, as CEL types it."""
        if self.negated_value(condition, op):
            return
        self.visit(condition)
        if op in ORDERING_OPS:
            self.error(f"cannot use '{op}' with a condition", offset)
        else:
            self.truth_value(other)

    def truth_value(self, other: Operand) -> None:
        if isinstance(other, Literal) and isinstance(other.value, bool):
            return
        words = self.side(other)[1]
        if isinstance(other, Literal) and other.value is None:
            words += " (a condition is true or false, never null)"
        self.error(f"cannot compare a condition with {words}", other.offset)

    def visit(self, expr: Expr) -> None:
        if isinstance(expr, And | Or):
            self.visit(expr.left)
            self.visit(expr.right)
        elif isinstance(expr, Not):
            self.visit(expr.expr)
        elif isinstance(expr, Has):
            self.field(expr.field)
        elif isinstance(expr, IsTrue):
            kind, words = self.field(expr.field)
            if kind not in (None, "boolean"):
                self.error(f"cannot use {words} as a condition", expr.offset)
        elif isinstance(expr, Method):
            kind, words = self.field(expr.field)
            if kind not in (None, "string"):
                self.error(f"cannot call {expr.name} on {words}", expr.offset)
        elif isinstance(expr, In):
            if not isinstance(expr.left, Field):
                if not self.negated_value(expr.left, "in"):
                    self.visit(expr.left)
                    for value in expr.values:
                        self.truth_value(value)
                return
            side = self.field(expr.left)
            for value in expr.values:
                self.compare("==", side, self.side(value), value.offset)
        elif not isinstance(expr.left, Field | Literal):
            self.condition_vs(expr.op, expr.left, expr.right, expr.offset)
        elif isinstance(expr.left, Literal) and isinstance(expr.right, Literal):
            self.error("condition compares two constants", expr.offset)
        elif isinstance(expr.left, Field):
            self.compare(expr.op, self.field(expr.left), self.side(expr.right), expr.offset)
        else:  # a literal on the left: still name the field first
            literal = self.side(expr.left)
            self.compare(expr.op, self.side(expr.right), literal, expr.offset)


def check(expr: Expr, fields: FieldTypes) -> list[ConditionError]:
    """Every type problem of a parsed condition, in text order (empty when it is fine)."""
    checker = _Checker(fields)
    checker.visit(expr)
    return sorted(dict.fromkeys(checker.errors), key=lambda e: e.offset)


def lower(expr: Expr) -> Expr:
    """`expr` with every comparison of a condition written as that condition or its negation:
    `c == true` is c, `c == false` is `!c`; `c in [true, false]` is true (every condition is one or
    the other), written `has(f) || !has(f)` with a field f that c reads: `c || !c` would double the
    rules at each level of `((c) in [true, false]) in [true, false]`. Raises ValueError on a
    comparison `check` refuses."""
    if isinstance(expr, And):
        return And(lower(expr.left), lower(expr.right), expr.offset)
    if isinstance(expr, Or):
        return Or(lower(expr.left), lower(expr.right), expr.offset)
    if isinstance(expr, Not):
        return Not(lower(expr.expr), expr.offset)
    if isinstance(expr, Compare) and _is_condition(expr.left):
        assert not isinstance(expr.left, Field | Literal)
        value = expr.right.value if isinstance(expr.right, Literal) else None
        if expr.op not in ("==", "!=") or not isinstance(value, bool):
            raise ValueError("a condition compares with true or false only (run check first)")
        inner = lower(expr.left)
        return inner if value == (expr.op == "==") else Not(inner, expr.offset)
    if isinstance(expr, In) and _is_condition(expr.left):
        assert not isinstance(expr.left, Field | Literal)
        wanted = {v.value for v in expr.values}
        if not wanted <= {True, False}:
            raise ValueError("a condition is in a list of true and false only (run check first)")
        if wanted == {True, False}:
            present = Has(fields_of(expr.left)[0], expr.offset)  # every condition reads a field
            return Or(present, Not(present, expr.offset), expr.offset)
        inner = lower(expr.left)
        return inner if wanted == {True} else Not(inner, expr.offset)
    return expr


def fields_of(expr: Expr) -> list[Field]:
    """Every field occurrence, in text order."""
    if isinstance(expr, And | Or):
        return fields_of(expr.left) + fields_of(expr.right)
    if isinstance(expr, Not):
        return fields_of(expr.expr)
    if isinstance(expr, Compare | In):
        sides = [expr.left, expr.right] if isinstance(expr, Compare) else [expr.left]
        found: list[Field] = []
        for side in sides:
            if isinstance(side, Field):
                found.append(side)
            elif not isinstance(side, Literal):
                found += fields_of(side)
        return found
    return [expr.field]


def fields_read(expr: Expr) -> tuple[str, ...]:
    """Top-level names of the fields a condition reads (`requester` included), sorted, unique."""
    return tuple(sorted({f.path[0] for f in fields_of(expr)}))
