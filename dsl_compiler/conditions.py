"""The condition language (spec "Conditions"): a CEL subset, parsed by hand and type-checked.

Every node and every error carries a 0-based character offset into the condition text, which
the validator turns into file, line and column.
"""

from __future__ import annotations

import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass

FieldTypes = Mapping[str, str]  # declared input field name -> "string"|"number"|"integer"|"boolean"|"array"|"object"
LiteralValue = str | int | float | bool | None
CompareOp = typing.Literal["==", "!=", "<", "<=", ">", ">="]
MethodName = typing.Literal["startsWith", "endsWith", "contains"]

REQUESTER = "requester"  # always known, a string, read from the execution input rather than from `input`
ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
METHODS: tuple[MethodName, ...] = ("startsWith", "endsWith", "contains")
_CMP_OPS: tuple[CompareOp, ...] = ("==", "!=", "<", "<=", ">", ">=")
_KINDS = frozenset({"string", "number", "boolean", "array", "object"})  # JSON kinds of declared fields
# Deepest tree a condition may parse to (each '(', '!', '&&' and '||' is a level). The tree is walked
# recursively here, in choice.py and spec.py, and by the runtime's evaluator: bounded at parse time.
MAX_DEPTH = 32


class ConditionError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __eq__(self, other: object) -> bool:  # lets tests compare lists of errors directly
        return isinstance(other, ConditionError) and (self.message, self.offset) == (other.message, other.offset)

    def __hash__(self) -> int:
        return hash((self.message, self.offset))


@dataclass(frozen=True)
class Literal:
    value: LiteralValue
    offset: int


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    offset: int


Operand = Literal | Field


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    left: Operand
    right: Operand
    offset: int


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Literal, ...]
    offset: int


@dataclass(frozen=True)
class Has:
    field: Field
    offset: int


@dataclass(frozen=True)
class Method:
    name: MethodName
    field: Field
    arg: str
    offset: int


@dataclass(frozen=True)
class IsTrue:
    """A bare field used as a condition (`urgent`, `!urgent`): means `urgent == true`."""

    field: Field
    offset: int


@dataclass(frozen=True)
class Not:
    expr: Expr
    offset: int


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr
    offset: int


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr
    offset: int


Expr = Compare | In | Has | Method | IsTrue | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: str  # "lit" (a number, string, true, false or null), "ident", "op", "eof"
    text: str  # source text, used in messages
    value: LiteralValue
    offset: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of condition"
        return self.text if self.kind == "lit" else f"'{self.text}'"


# CEL digits are 0-9 only: `\d` and str.isdigit() also take '٣', '１' and '²'.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_DIGITS = frozenset("0123456789")
_NUMBER_TAIL = re.compile(r"[\w.]*")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_WORDS: dict[str, LiteralValue] = {"true": True, "false": False, "null": None}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", ".")
_HINTS = {"=": "==", "&": "&&", "|": "||"}


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c == '"':
            if not (m := _STRING.match(text, i)):
                raise ConditionError("unterminated string", i)
            # Only \" and \\: anything else (\n, \u...) is more likely a mistake than meant.
            if bad := next((e for e in _ESCAPE.finditer(m.group(1)) if e.group(1) not in '"\\'), None):
                raise ConditionError(f"invalid escape '{bad.group()}' in string", i + 1 + bad.start())
            tokens.append(_Token("lit", m.group(), _ESCAPE.sub(r"\1", m.group(1)), i))
            i = m.end()
        elif c in _DIGITS or (c == "-" and text[i + 1 : i + 2] in _DIGITS):
            m = _NUMBER.match(text, i)
            assert m is not None
            tail = _NUMBER_TAIL.match(text, m.end())
            assert tail is not None
            if tail.group():  # `1.`, `2x`: reject here rather than as a confusing token sequence later
                raise ConditionError(f"invalid number '{_clip(text[i : tail.end()])}'", i)
            raw = m.group()
            # float() first: it bounds the magnitude, so int() stays within Python's int-str digit limit.
            if math.isinf(float(raw)):
                raise ConditionError(f"number out of range '{_clip(raw)}'", i)
            value: int | float = float(raw) if m.group(1) or m.group(2) else int(raw)
            tokens.append(_Token("lit", raw, value, i))
            i = m.end()
        elif m := _IDENT.match(text, i):
            word = m.group()
            tokens.append(_Token("lit", word, _WORDS[word], i) if word in _WORDS else _Token("ident", word, None, i))
            i = m.end()
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                hint = f" (did you mean '{_HINTS[c]}'?)" if c in _HINTS else ""
                raise ConditionError(f"unexpected character {c!r}{hint}", i)
            tokens.append(_Token("op", op, None, i))
            i += len(op)
    tokens.append(_Token("eof", "", None, len(text)))
    return tokens


def _too_deep(offset: int) -> ConditionError:
    return ConditionError(f"condition nested too deeply (more than {MAX_DEPTH} levels; each '(', '!', '&&' and "
                          "'||' is one)", offset)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.open = 0  # '(' and '!' being parsed: bounds this parser's own recursion
        self.depths: dict[int, int] = {}  # id(node) -> depth of the And/Or/Not nodes built so far

    def depth(self, expr: Expr) -> int:
        return self.depths.get(id(expr), 0)

    def nest(self, expr: Expr, depth: int, offset: int) -> Expr:
        if depth + self.open > MAX_DEPTH:  # the parentheses around it count too
            raise _too_deep(offset)
        self.depths[id(expr)] = depth
        return expr

    def enter(self, tok: _Token) -> None:
        self.open += 1
        if self.open > MAX_DEPTH:
            raise _too_deep(tok.offset)

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.peek()
        self.pos += 1
        return tok

    def at(self, text: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind in ("op", "ident") and tok.text == text

    def expect(self, text: str) -> _Token:
        if not self.at(text):
            self.fail(f"'{text}'")
        return self.next()

    def fail(self, expected: str) -> typing.NoReturn:
        tok = self.peek()
        raise ConditionError(f"expected {expected} but found {tok.describe()}", tok.offset)

    def condition(self) -> Expr:
        expr = self.or_()
        if self.peek().kind != "eof":
            self.fail("'&&', '||' or end of condition")
        return expr

    def or_(self) -> Expr:
        return self.chain("||", Or, self.and_)

    def and_(self) -> Expr:
        return self.chain("&&", And, self.unary)

    def chain(self, op: str, node: type[And] | type[Or], operand: typing.Callable[[], Expr]) -> Expr:
        start = self.peek().offset  # the node starts where its text starts, parentheses included
        left = operand()
        while self.at(op):
            tok = self.next()
            right = operand()
            depth = 1 + max(self.depth(left), self.depth(right))
            left = self.nest(node(left, right, start), depth, tok.offset)  # left-associative
        return left

    def unary(self) -> Expr:
        if self.at("!"):
            bang = self.next()
            self.enter(bang)
            inner = self.unary()
            self.open -= 1
            return self.nest(Not(inner, bang.offset), 1 + self.depth(inner), bang.offset)
        return self.relation()

    def relation(self) -> Expr:
        tok = self.peek()
        if self.at("("):
            self.enter(self.next())
            inner = self.or_()
            self.expect(")")
            self.open -= 1
            return inner
        if tok.kind == "ident" and self.at("(", 1):
            if tok.text != "has":
                raise ConditionError(f"unknown function '{tok.text}'", tok.offset)
            return self.has()
        left = self.operand("a condition", methods=True)
        if isinstance(left, Method):
            return left
        op = self.peek()
        if op.kind == "op" and op.text in _CMP_OPS:
            self.next()
            right = self.operand("a field or a literal", methods=False)
            assert not isinstance(right, Method)
            return Compare(op.text, left, right, left.offset)
        if self.at("in"):
            if not isinstance(left, Field):
                raise ConditionError("left side of 'in' must be a field", left.offset)
            self.next()
            return In(left, self.literal_list(), left.offset)
        if isinstance(left, Field):
            return IsTrue(left, left.offset)
        self.fail("a comparison operator")

    def has(self) -> Has:
        start = self.next().offset
        self.expect("(")
        if self.peek().kind == "lit":
            self.fail("a field")
        field = self.operand("a field", methods=False)
        assert isinstance(field, Field)
        self.expect(")")
        return Has(field, start)

    def operand(self, expected: str, *, methods: bool) -> Operand | Method:
        tok = self.peek()
        if tok.kind == "lit":
            return self.literal()
        if tok.kind != "ident" or tok.text == "in":
            self.fail(expected)
        self.next()
        path = [tok.text]
        while self.at("."):
            self.next()
            name = self.peek()
            if name.kind != "ident":
                self.fail("a name after '.'")
            self.next()
            if self.at("("):
                if not methods:
                    raise ConditionError(f"unexpected call of '{name.text}'", name.offset)
                return self.method(Field(tuple(path), tok.offset), name)
            path.append(name.text)
        if self.at("("):
            raise ConditionError(f"unexpected call of '{tok.text}'", tok.offset)
        return Field(tuple(path), tok.offset)

    def method(self, receiver: Field, name: _Token) -> Method:
        if name.text not in METHODS:
            raise ConditionError(f"unknown method '{name.text}'", name.offset)
        self.expect("(")
        arg = self.peek()
        if not isinstance(arg.value, str):
            self.fail("a string literal")
        self.next()
        self.expect(")")
        return Method(name.text, receiver, arg.value, receiver.offset)

    def literal(self) -> Literal:
        if self.peek().kind != "lit":
            self.fail("a literal")
        tok = self.next()
        return Literal(tok.value, tok.offset)

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("[")
        values = [self.literal()]  # an empty list would be a constant false: not allowed
        while not self.at("]"):
            if not self.at(","):
                self.fail("',' or ']'")
            self.next()
            values.append(self.literal())
        self.next()
        return tuple(values)


def parse(text: str) -> Expr:
    """Parse condition text; raises ConditionError at the first syntax problem."""
    return _Parser(text).condition()


def describe_literal(value: LiteralValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    return f"number {value!r}"


def literal_kind(value: LiteralValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


_Side = tuple[str | None, str]  # (JSON kind, or None when unknown; words for messages)


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
        return (kind if kind in _KINDS else None), f"{declared} field '{name}'"

    def side(self, operand: Operand) -> _Side:
        if isinstance(operand, Field):
            return self.field(operand)
        return literal_kind(operand.value), describe_literal(operand.value)

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
            side = self.field(expr.field)
            for value in expr.values:
                self.compare("==", side, self.side(value), value.offset)
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
    return sorted(checker.errors, key=lambda e: e.offset)


def fields_of(expr: Expr) -> list[Field]:
    """Every field occurrence, in text order."""
    if isinstance(expr, And | Or):
        return fields_of(expr.left) + fields_of(expr.right)
    if isinstance(expr, Not):
        return fields_of(expr.expr)
    if isinstance(expr, Compare):
        return [side for side in (expr.left, expr.right) if isinstance(side, Field)]
    return [expr.field]


def fields_read(expr: Expr) -> tuple[str, ...]:
    """Top-level names of the fields a condition reads (`requester` included), sorted, unique."""
    return tuple(sorted({f.path[0] for f in fields_of(expr)}))
