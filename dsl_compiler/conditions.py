"""The condition language (spec "Conditions"): a CEL subset, parsed by hand (here) and
type-checked (condition_check.py), with CEL's precedence: `!` binds tighter than a comparison
(`!b == false` is `(!b) == false`), which binds tighter than `&&`, then `||`.

Every node and every error carries a 0-based character offset into the condition text, which
the validator turns into file, line and column.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass

from .condition_check import check, fields_of, fields_read, lower
from .condition_nodes import (
    CMP_OPS,
    MAX_DEPTH,
    METHODS,
    ORDERING_OPS,
    REQUESTER,
    RESERVED,
    And,
    Compare,
    CompareOp,
    ConditionError,
    Expr,
    Field,
    FieldTypes,
    Has,
    In,
    IsTrue,
    Literal,
    LiteralValue,
    Method,
    MethodName,
    Not,
    Operand,
    Or,
    describe_literal,
    literal_kind,
)

__all__ = [
    "MAX_DEPTH", "METHODS", "ORDERING_OPS", "REQUESTER", "And", "Compare", "CompareOp", "ConditionError", "Expr",
    "Field", "FieldTypes", "Has", "In", "IsTrue", "Literal", "LiteralValue", "Method", "MethodName", "Not", "Operand",
    "Or", "check", "describe_literal", "fields_of", "fields_read", "literal_kind", "lower", "parse",
]


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
            if brk := re.search(r"[\r\n]", m.group(1)):  # CEL's quoted strings are one line
                raise ConditionError("line break inside a string (a CEL string is one line)", i + 1 + brk.start())
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
        expr = self.boolean(self.or_())
        if self.peek().kind != "eof":
            self.fail("'&&', '||' or end of condition")
        return expr

    def boolean(self, value: Operand | Expr) -> Expr:
        """`value` where a condition is needed: a bare field means `field == true`; a literal is an error."""
        if isinstance(value, Field):
            return IsTrue(value, value.offset)
        if isinstance(value, Literal):
            self.fail("a comparison operator")
        return value

    def or_(self) -> Operand | Expr:
        return self.chain("||", Or, self.and_)

    def and_(self) -> Operand | Expr:
        return self.chain("&&", And, self.relation)

    def chain(
        self, op: str, node: type[And] | type[Or], operand: typing.Callable[[], Operand | Expr]
    ) -> Operand | Expr:
        start = self.peek().offset  # the node starts where its text starts, parentheses included
        left = operand()
        while self.at(op):
            left = self.boolean(left)
            tok = self.next()
            right = self.boolean(operand())
            depth = 1 + max(self.depth(left), self.depth(right))
            left = self.nest(node(left, right, start), depth, tok.offset)  # left-associative
        return left

    def relation(self) -> Operand | Expr:
        """`unary (op operand | in [...])?`: what is left of the operator may be a condition, as in
        CEL; what is right of it is a field or a literal. One operator: `a < b < c` is refused."""
        start = self.peek().offset
        left = self.unary()
        op = self.peek()
        if op.kind == "op" and op.text in CMP_OPS:
            self.next()
            right = self.operand("a field or a literal", methods=False)
            assert not isinstance(right, Method)
            return Compare(op.text, left, right, start)
        if self.at("in"):
            if isinstance(left, Literal):
                raise ConditionError("left side of 'in' must be a field", left.offset)
            self.next()
            return In(left, self.literal_list(), start)
        return left

    def unary(self) -> Operand | Expr:
        """CEL's `'!'* member`: `!` applies to what follows it up to the next operator."""
        if self.at("!"):
            bang = self.next()
            self.enter(bang)
            inner = self.boolean(self.unary())
            self.open -= 1
            return self.nest(Not(inner, bang.offset), 1 + self.depth(inner), bang.offset)
        return self.member()

    def member(self) -> Operand | Expr:
        tok = self.peek()
        if self.at("("):
            self.enter(self.next())
            inner = self.or_()  # `(x)` stays the field x: CEL's parentheses only group
            self.expect(")")
            self.open -= 1
            return inner
        if tok.kind == "ident" and self.at("(", 1):
            if tok.text != "has":
                raise ConditionError(f"unknown function '{tok.text}'", tok.offset)
            return self.has()
        return self.operand("a condition", methods=True)

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
        path = [self.name(tok)]
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
            path.append(self.name(name))
        if self.at("("):
            raise ConditionError(f"unexpected call of '{tok.text}'", tok.offset)
        return Field(tuple(path), tok.offset)

    def name(self, tok: _Token) -> str:
        if tok.text in RESERVED:
            raise ConditionError(f"'{tok.text}' is a reserved word in CEL: it cannot name a field", tok.offset)
        return tok.text

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


