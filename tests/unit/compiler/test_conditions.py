"""The condition language: parser, type checker, fields_read and the reference evaluator."""

from __future__ import annotations

from typing import Any

import pytest

from dsl_compiler.conditions import (
    And,
    Compare,
    ConditionError,
    Field,
    Has,
    In,
    IsTrue,
    Literal,
    Method,
    Not,
    Or,
    check,
    fields_read,
    parse,
)
from dsl_compiler.evaluate import evaluate

FIELDS = {
    "days": "number",
    "hours": "integer",
    "name": "string",
    "region": "string",
    "urgent": "boolean",
    "tags": "array",
    "meta": "object",
}


def f(*path: str, at: int) -> Field:
    return Field(path, at)


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("days > 3", Compare(">", f("days", at=0), Literal(3, 7), 0)),
        ("days >= 0.5", Compare(">=", f("days", at=0), Literal(0.5, 8), 0)),
        ("days < -2", Compare("<", f("days", at=0), Literal(-2, 7), 0)),
        ("days <= 1e3", Compare("<=", f("days", at=0), Literal(1000.0, 8), 0)),
        ('name == "a\\"b\\\\c"', Compare("==", f("name", at=0), Literal('a"b\\c', 8), 0)),
        ("urgent != false", Compare("!=", f("urgent", at=0), Literal(False, 10), 0)),
        ("urgent == true", Compare("==", f("urgent", at=0), Literal(True, 10), 0)),
        ("name == null", Compare("==", f("name", at=0), Literal(None, 8), 0)),
        ("3 < days", Compare("<", Literal(3, 0), f("days", at=4), 0)),
        ("days < hours", Compare("<", f("days", at=0), f("hours", at=7), 0)),
        ("meta.a.b == 1", Compare("==", f("meta", "a", "b", at=0), Literal(1, 12), 0)),
        ('  requester == "ann"', Compare("==", f("requester", at=2), Literal("ann", 15), 2)),
        ('region in ["EU", "US"]', In(f("region", at=0), (Literal("EU", 11), Literal("US", 17)), 0)),
        ("has(meta.a)", Has(f("meta", "a", at=4), 0)),
        ('name.startsWith("A*")', Method("startsWith", f("name", at=0), "A*", 0)),
        ('meta.x.endsWith("z")', Method("endsWith", f("meta", "x", at=0), "z", 0)),
        ('name.contains("")', Method("contains", f("name", at=0), "", 0)),
        ("urgent", IsTrue(f("urgent", at=0), 0)),
        ("!urgent", Not(IsTrue(f("urgent", at=1), 1), 0)),
        ("! !urgent", Not(Not(IsTrue(f("urgent", at=3), 3), 2), 0)),
        ("has(x)", Has(f("x", at=4), 0)),
        ("has", IsTrue(f("has", at=0), 0)),  # only a call is the function
    ],
)
def test_parse_atoms(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_precedence_or_below_and_below_comparison_below_not() -> None:
    a, b, c = (IsTrue(f(n, at=i), i) for n, i in (("a", 0), ("b", 5), ("c", 10)))
    assert parse("a || b && c") == Or(a, And(b, c, 5), 0)
    a, b, c = (IsTrue(f(n, at=i), i) for n, i in (("a", 0), ("b", 5), ("c", 10)))
    assert parse("a && b || c") == Or(And(a, b, 0), c, 0)
    # CEL's: `!` binds tighter than a comparison (this was `!(x == 1)` before conditions followed CEL)
    assert parse("!x == 1") == Compare("==", Not(IsTrue(f("x", at=1), 1), 0), Literal(1, 6), 0)
    assert parse("!(x == 1)") == Not(Compare("==", f("x", at=2), Literal(1, 7), 2), 0)
    # left-associative chains
    assert parse("a || b || c") == Or(Or(a, IsTrue(f("b", at=5), 5), 0), c, 0)


def test_parentheses_and_offsets() -> None:
    tree = parse("(days > 3 || urgent) && !has(meta.x)")
    assert tree == And(
        Or(Compare(">", f("days", at=1), Literal(3, 8), 1), IsTrue(f("urgent", at=13), 13), 1),
        Not(Has(f("meta", "x", at=29), 25), 24),
        0,
    )
    # the outer node starts where its text starts, the parenthesis included
    assert parse("((a)) || b") == Or(IsTrue(f("a", at=2), 2), IsTrue(f("b", at=9), 9), 0)


def test_whitespace_is_free() -> None:
    assert parse("days>3&&!urgent") == And(
        Compare(">", f("days", at=0), Literal(3, 5), 0), Not(IsTrue(f("urgent", at=9), 9), 8), 0
    )
    assert parse("\tdays\n>\r\n3") == Compare(">", f("days", at=1), Literal(3, 9), 1)


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("", "expected a condition but found end of condition", 0),
        ("days > 3 &&", "expected a condition but found end of condition", 11),
        ("(days > 3", "expected ')' but found end of condition", 9),
        ("(days > 3 x", "expected ')' but found 'x'", 10),
        ("days > 3)", "expected '&&', '||' or end of condition but found ')'", 8),
        ("days > 3 urgent", "expected '&&', '||' or end of condition but found 'urgent'", 9),
        ("a < b < c", "expected '&&', '||' or end of condition but found '<'", 6),
        ("days >", "expected a field or a literal but found end of condition", 6),
        ("days > (3)", "expected a field or a literal but found '('", 7),
        ("days > in", "expected a field or a literal but found 'in'", 7),
        ("in", "expected a condition but found 'in'", 0),
        ("&& a", "expected a condition but found '&&'", 0),
        ("a & b", "unexpected character '&' (did you mean '&&'?)", 2),
        ("a | b", "unexpected character '|' (did you mean '||'?)", 2),
        ("days = 3", "unexpected character '=' (did you mean '=='?)", 5),
        ("days > $x", "unexpected character '$'", 7),
        ("name == 'x'", 'unexpected character "\'"', 8),
        ("days - 1", "unexpected character '-'", 5),
        ('name == "abc', "unterminated string", 8),
        ('name == "abc\\"', "unterminated string", 8),
        ('name == "a\\nb"', "invalid escape '\\n' in string", 10),
        ("days == 1.", "invalid number '1.'", 8),
        ("days == 12ab", "invalid number '12ab'", 8),
        ("days == 1e999", "number out of range '1e999'", 8),
        ("3", "expected a comparison operator but found end of condition", 1),
        ("true && urgent", "expected a comparison operator but found '&&'", 5),
        ("3 in [1]", "left side of 'in' must be a field", 0),
        ("days in 3", "expected '[' but found 3", 8),
        ("days in []", "expected a literal but found ']'", 9),
        ("days in [1 2]", "expected ',' or ']' but found 2", 11),
        ("days in [1, hours]", "expected a literal but found 'hours'", 12),
        ("days in [1,", "expected a literal but found end of condition", 11),
        ("has()", "expected a field but found ')'", 4),
        ("has(1)", "expected a field but found 1", 4),
        ("has(a b)", "expected ')' but found 'b'", 6),
        ("size(tags) > 1", "unknown function 'size'", 0),
        ('name.matches("x")', "unknown method 'matches'", 5),
        ("name.startsWith(region)", "expected a string literal but found 'region'", 16),
        ("name.startsWith(1)", "expected a string literal but found 1", 16),
        ('name.startsWith("x"', "expected ')' but found end of condition", 19),
        ('days == name.startsWith("x")', "unexpected call of 'startsWith'", 13),
        ("days == size(tags)", "unexpected call of 'size'", 8),
        ("meta.", "expected a name after '.' but found end of condition", 5),
        ("meta.1 == 2", "expected a name after '.' but found 1", 5),
    ],
)
def test_syntax_errors(text: str, message: str, offset: int) -> None:
    with pytest.raises(ConditionError) as info:
        parse(text)
    assert (info.value.message, info.value.offset) == (message, offset)
    assert str(info.value) == message


# --- type checking ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "days > 3 && hours <= 2.5",
        'region in ["EU", "US", null] || name >= "m"',
        "urgent && !urgent == false",
        "days == null && tags != null && meta == null",
        "days < hours && name == region && urgent != urgent",
        'requester == "ann" && requester.endsWith("n")',
        "meta.a == 1 && meta.d < 3",
        'meta.b.c == "x" && meta.d < "3" && meta.e && meta.f.contains("q")',
        "meta.a == meta.b && meta.a < days && has(meta.z)",
        "has(days) && has(tags) && has(meta)",
        "3 < days",
    ],
)
def test_well_typed(text: str) -> None:
    assert check(parse(text), FIELDS) == []


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ('days == "x"', [("cannot compare number field 'days' with string \"x\"", 0)]),
        ('"x" < days', [("cannot compare number field 'days' with string \"x\"", 0)]),
        ("hours == true", [("cannot compare integer field 'hours' with boolean true", 0)]),
        ("name != 1.5", [("cannot compare string field 'name' with number 1.5", 0)]),
        ("urgent == 0", [("cannot compare boolean field 'urgent' with number 0", 0)]),
        ('tags == "a"', [("cannot compare array field 'tags' with string \"a\"", 0)]),
        ("meta == 1", [("cannot compare object field 'meta' with number 1", 0)]),
        ("days == name", [("cannot compare number field 'days' with string field 'name'", 0)]),
        ("requester == 1", [("cannot compare string field 'requester' with number 1", 0)]),
        ("urgent < true", [("cannot use '<' with boolean field 'urgent'", 0)]),
        ("urgent >= urgent", [("cannot use '>=' with boolean field 'urgent'", 0)]),
        ("days > null", [("cannot use '>' with null", 0)]),
        ("meta.x <= false", [("cannot use '<=' with boolean false", 0)]),
        ("tags == tags", [("cannot use '==' with array field 'tags'", 0)]),
        ("meta.x != meta", [("cannot use '!=' with object field 'meta'", 0)]),
        ("1 == 1", [("condition compares two constants", 0)]),
        ("x > 1", [("unknown field 'x' (declare it under input)", 0)]),
        ("has(x.y)", [("unknown field 'x' (declare it under input)", 4)]),
        ("days.unit == 1", [("number field 'days' has no field 'unit'", 0)]),
        ('requester.id == "a"', [("string field 'requester' has no field 'id'", 0)]),
        ("name", [("cannot use string field 'name' as a condition", 0)]),
        ("!days", [("cannot use number field 'days' as a condition", 1)]),
        ('days.startsWith("1")', [("cannot call startsWith on number field 'days'", 0)]),
        ('tags.contains("a")', [("cannot call contains on array field 'tags'", 0)]),
        (
            'days in [1, "2", null, true]',
            [
                ("cannot compare number field 'days' with string \"2\"", 12),
                ("cannot compare number field 'days' with boolean true", 23),
            ],
        ),
        (
            # every problem, in text order, one per atom
            'regoin == "EU" || (days > "3" && !name) || foo.bar && days < hours',
            [
                ("unknown field 'regoin' (declare it under input)", 0),
                ("cannot compare number field 'days' with string \"3\"", 19),
                ("cannot use string field 'name' as a condition", 34),
                ("unknown field 'foo' (declare it under input)", 43),
            ],
        ),
    ],
)
def test_type_errors(text: str, errors: list[tuple[str, int]]) -> None:
    assert [(e.message, e.offset) for e in check(parse(text), FIELDS)] == errors


def test_requester_is_known_without_a_declaration() -> None:
    assert check(parse('requester in ["ann", "bob"]'), {}) == []


def test_errors_compare_by_message_and_offset() -> None:
    assert check(parse("x"), {}) == [ConditionError("unknown field 'x' (declare it under input)", 0)]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("days > 3", ("days",)),
        (
            'meta.a.b == 1 || requester == "x" && days < hours || has(zeta) || !urgent',
            (
                "days",
                "hours",
                "meta",
                "requester",
                "urgent",
                "zeta",
            ),
        ),
        ('region in ["EU"] && region.startsWith("E") && 3 < days', ("days", "region")),
    ],
)
def test_fields_read(text: str, names: tuple[str, ...]) -> None:
    assert fields_read(parse(text)) == names


# --- evaluation ------------------------------------------------------------------------

INPUT: dict[str, Any] = {
    "days": 5,
    "hours": 2.0,
    "name": "Ann*",
    "region": "EU",
    "urgent": False,
    "none": None,
    "flag": True,
    "meta": {"a": {"b": 1}, "s": "x"},
    "tags": ["a"],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("days > 3", True),
        ("days == 5.0", True),
        ("hours == 2", True),
        ("days >= 5 && days <= 5 && !(days < 5) && !(days > 5)", True),
        ("3 < days", True),
        ("days != 4", True),
        ("hours < days", True),
        ('region == "EU"', True),
        ('region < "US" && region > "E" && "EU" <= region', True),
        ('region in ["US", "EU"]', True),
        ("days in [1, 2.5, 5.0]", True),
        ("urgent == false && !urgent && urgent != true", True),
        ("flag", True),
        ("urgent", False),
        ('name.startsWith("An") && name.endsWith("*") && name.contains("n*")', True),
        ('name.startsWith("n")', False),
        ("has(meta.a.b) && meta.a.b == 1 && !has(meta.a.c) && !has(meta.s.x)", True),
        ("none == null && !(none != null) && days != null", True),
        ('requester == "ann" && requester.startsWith("a")', True),
        # absent fields: every atom that reads one is false, so its negation is true
        ("missing == 1", False),
        ("missing != 1", False),
        ("!(missing != 1)", True),
        ("missing == null", False),
        ("missing != null", False),
        ("missing < 1 || missing >= 1", False),
        ("missing", False),
        ("!missing", True),
        ('missing in [1, "a", null]', False),
        ('missing.contains("")', False),
        ("days < missing || days == missing || days != missing", False),
        ("meta.q.r == 1 || meta.q.r != 1", False),
        ("has(missing) || has(meta.q)", False),
        # null is a present value, but of no type but its own
        ('none != 1 && none != "x" && none != false && !(none < 1) && !none', True),
        ("none == none && !(none != none)", True),
        # a present value of the wrong JSON type never matches
        ('name > 1 || name == 1 || region in [1, true] || days.startsWith("5")', False),
        ("name != 1 && flag != 1", True),
        ("days == region || days < region || tags == tags || meta == meta", False),
        ("tags != tags", True),
        ("flag == urgent || flag < urgent", False),
        ("flag != urgent", True),
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    assert evaluate(parse(text), {"input": INPUT, "requester": "ann"}) is expected


def test_json_booleans_are_not_numbers() -> None:
    context = {"input": {"n": True, "z": 0}, "requester": "x"}
    assert evaluate(parse("n == 1 || n > 0 || n in [1]"), context) is False
    assert evaluate(parse("z == false || z == false || z in [false]"), context) is False


def test_requester_absent_from_context() -> None:
    assert evaluate(parse('requester == "ann"'), {"input": {}}) is False
    assert evaluate(parse("has(requester)"), {"input": {}, "requester": "ann"}) is True
    assert evaluate(parse("has(x)"), {}) is False


def test_unchecked_constant_comparison_is_refused() -> None:
    with pytest.raises(ValueError, match="two constants"):
        evaluate(parse("1 == 1"), {"input": {}})


# --- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("digit", ["²", "٣", "１", "߁"])
def test_only_ascii_digits_are_numbers(digit: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse(f"days > {digit}")
    assert info.value.offset == 7


def test_integer_beyond_a_double_is_out_of_range_not_a_crash() -> None:
    with pytest.raises(ConditionError, match="number out of range"):
        parse("days > " + "9" * 5000)  # past Python's int-str limit (4300 digits)
    assert parse("days > " + "9" * 300) == Compare(">", f("days", at=0), Literal(int("9" * 300), 7), 0)


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("(" * 33 + "urgent" + ")" * 33, 32),
        ("!" * 33 + "urgent", 32),
        ("!" * 5000 + "urgent", 32),
        (" || ".join(["urgent"] * 34), 32 * 10 + 7),  # the 33rd '||'
        (" && ".join(["urgent"] * 1000), 32 * 10 + 7),
        ("(" * 20 + " && ".join(["urgent"] * 14) + ")" * 20, 20 + 12 * 10 + 7),
    ],
)
def test_nesting_is_bounded(text: str, offset: int) -> None:
    with pytest.raises(ConditionError, match="nested too deeply") as info:
        parse(text)
    assert info.value.offset == offset


def test_the_deepest_condition_allowed_evaluates() -> None:
    text = "(" * 16 + " && ".join(["urgent"] * 17) + ")" * 16
    expr = parse(text)
    assert check(expr, FIELDS) == []
    assert evaluate(expr, {"input": {"urgent": True}}) is True
    assert evaluate(parse("!" * 32 + "urgent"), {"input": {"urgent": True}}) is True
