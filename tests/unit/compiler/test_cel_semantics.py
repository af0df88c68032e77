"""Conditions mean what CEL means: `!` binds tighter than a comparison, a condition may be compared
with true or false, and what CEL refuses (`!` on a number, integers beyond 64 bits, a line break in
a string, reserved words) is refused with its position."""

from __future__ import annotations

from typing import Any

import pytest

from dsl_compiler.choice import to_choice_rule
from dsl_compiler.conditions import (
    Compare,
    ConditionError,
    Field,
    Has,
    In,
    IsTrue,
    Literal,
    Method,
    Not,
    check,
    fields_read,
    lower,
    parse,
)
from dsl_compiler.evaluate import evaluate

FIELDS = {"n": "number", "i": "integer", "s": "string", "b": "boolean", "c": "boolean", "meta": "object"}


def f(name: str, at: int) -> Field:
    return Field((name,), at)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("!b in [false, true]", In(Not(IsTrue(f("b", 1), 1), 0), (Literal(False, 7), Literal(True, 14)), 0)),
        ("!c == null", Compare("==", Not(IsTrue(f("c", 1), 1), 0), Literal(None, 6), 0)),
        ("has(s) == false", Compare("==", Has(f("s", 4), 0), Literal(False, 10), 0)),
        ('s.contains("a") == true', Compare("==", Method("contains", f("s", 0), "a", 0), Literal(True, 19), 0)),
        ("(b) == true", Compare("==", f("b", 1), Literal(True, 7), 0)),  # parentheses only group: b is a field
        ("!!b != false", Compare("!=", Not(Not(IsTrue(f("b", 2), 2), 1), 0), Literal(False, 7), 0)),
    ],
)
def test_cel_precedence(text: str, tree: object) -> None:
    assert parse(text) == tree


CONTEXT: dict[str, Any] = {"input": {"n": 2.0, "s": "xa", "b": False, "c": False}, "requester": "ann"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!b in [false, true]", True),  # CEL: (!b) in [...]; it was !(b in [...]): false
        ("!b in [false]", False),
        ("has(i) == false", True),  # i is absent
        ("has(n) == false", False),
        ('s.contains("a") == true', True),
        ('s.contains("a") != true', False),
        ("!c == true", True),
        ("(n > 1 && b) == false", True),
        ("!(n > 1) == false", True),
        ("(b) == false", True),
        # a comparison of a condition is that condition or its negation, absent fields included:
        # `i > 1` is false when i is absent, so `(i > 1) == false` is true (CEL: no such key)
        ("(i > 1) == false", True),
    ],
)
def test_evaluate_follows_cel(text: str, expected: bool) -> None:
    expr = parse(text)
    assert check(expr, FIELDS) == []
    assert evaluate(expr, CONTEXT) is expected


def test_a_compared_condition_lowers_to_the_condition_or_its_negation() -> None:
    assert to_choice_rule(parse("has(s) == false")) == {"Not": {"Variable": "$.input.s", "IsPresent": True}}
    assert to_choice_rule(parse("has(s) != false")) == {"Variable": "$.input.s", "IsPresent": True}
    # always true, and of one size however deep: `c || !c` would double at each level
    both = {"Or": [{"Variable": "$.input.s", "IsPresent": True}, {"Not": {"Variable": "$.input.s", "IsPresent": True}}]}
    assert to_choice_rule(parse('s.contains("a") in [true, false]')) == both
    deep = "(" * 30 + "s == null" + ") in [true, false]" * 30
    assert to_choice_rule(parse(deep)) == both
    assert lower(parse("!b == true")) == Not(IsTrue(f("b", 1), 1), 0)
    assert fields_read(parse('(s.contains("a") || b) == false')) == ("b", "s")


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("!n > 1", [("'!' applies to number field 'n' alone, not to the '>' after it ('!' binds tighter, as in CEL),"
                     " and number field 'n' is not a boolean: write '!(...)' around the comparison", 0)]),
        ("!s in [1]", [("'!' applies to string field 's' alone, not to the 'in' after it ('!' binds tighter, as "
                        "in CEL), and string field 's' is not a boolean: write '!(...)' around the comparison", 0)]),
        ("!c == null", [("cannot compare a condition with null (a condition is true or false, never null)", 6)]),
        ("has(s) == 1", [("cannot compare a condition with number 1", 10)]),
        ('has(s) != "x"', [("cannot compare a condition with string \"x\"", 10)]),
        ("has(s) == b", [("cannot compare a condition with boolean field 'b'", 10)]),
        ("has(s) < true", [("cannot use '<' with a condition", 0)]),
        ("!b in [true, null, 2]", [("cannot compare a condition with null (a condition is true or false, never "
                                    "null)", 13), ("cannot compare a condition with number 2", 19)]),
        ("(n > x) == true", [("unknown field 'x' (declare it under input)", 5)]),
        ("i > 9223372036854775808", [("integer 9223372036854775808 is out of range: CEL integers are 64-bit "
                                      "(add '.0' for a double)", 4)]),
        ("i < -9223372036854775809 || i in [1, 99999999999999999999]", [
            ("integer -9223372036854775809 is out of range: CEL integers are 64-bit (add '.0' for a double)", 4),
            ("integer 99999999999999999999 is out of range: CEL integers are 64-bit (add '.0' for a double)", 37)]),
    ],
)
def test_what_cel_refuses_is_refused(text: str, errors: list[tuple[str, int]]) -> None:
    assert [(e.message, e.offset) for e in check(parse(text), FIELDS)] == errors


@pytest.mark.parametrize("text", ["i > 9223372036854775807", "i > -9223372036854775808", "n > 1e300"])
def test_the_ends_of_the_ranges_are_fine(text: str) -> None:
    assert check(parse(text), FIELDS) == []


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ('s == "a\nb"', "line break inside a string (a CEL string is one line)", 7),
        ('s == "a\r\nb"', "line break inside a string (a CEL string is one line)", 7),
        ("if == 1", "'if' is a reserved word in CEL: it cannot name a field", 0),
        ("meta.var == 1", "'var' is a reserved word in CEL: it cannot name a field", 5),
        ("has(meta.while)", "'while' is a reserved word in CEL: it cannot name a field", 9),
        ("!true", "expected a comparison operator but found end of condition", 5),
    ],
)
def test_syntax_cel_refuses(text: str, message: str, offset: int) -> None:
    with pytest.raises(ConditionError) as info:
        parse(text)
    assert (info.value.message, info.value.offset) == (message, offset)
