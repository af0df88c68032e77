"""The condition language's tree (spec "Conditions"): the nodes the parser (conditions.py) builds
and the checker (condition_check.py) reads, each with a 0-based character offset into the
condition text, which the validator turns into file, line and column."""

from __future__ import annotations

import json
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
CMP_OPS: tuple[CompareOp, ...] = ("==", "!=", "<", "<=", ">", ">=")
KINDS = frozenset({"string", "number", "boolean", "array", "object"})  # JSON kinds of declared fields
# CEL's reserved words (the spec's "Syntax"): no identifier may be one. `in`, `true`, `false` and
# `null` are the parser's own tokens.
RESERVED = frozenset({"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
                      "loop", "package", "namespace", "return", "var", "void", "while"})
INT64 = (-(2**63), 2**63 - 1)  # a CEL integer literal is 64-bit
# Deepest tree a condition may parse to (each '(', '!', '&&' and '||' is a level). The tree is walked
# recursively by the checker, in choice.py and spec.py, and by the runtime's evaluator: bounded at parse time.
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
    """`left op right`. As in CEL a condition may be compared too (`has(x) == false`, `!b != true`):
    the parser allows it on the left, the checker with true or false only."""

    op: CompareOp
    left: Operand | Expr
    right: Operand
    offset: int


@dataclass(frozen=True)
class In:
    left: Field | Expr
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
