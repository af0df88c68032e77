"""Our evaluator against cel-python (a CEL implementation; requirements-dev.txt) on generated
conditions of the subset and inputs: where both give an answer, they give the same one.

A condition's field `x` is CEL's `input.x` (`has()` takes a selection), `requester` is a variable;
a `number` field is a CEL double, an `integer` field an int, and literals are written so (`2.0`, `2`).

Where they may differ, and why (the test checks each one is the reason):
- our one documented choice: an atom that reads an absent field is false (docs/dsl.md, "Absent
  fields"), where CEL has an error ("no such member"/"no such key", cel-python raises);
- cel-python's departures from the current CEL spec: it has no heterogeneous equality or ordering
  across numeric types, and no equality with null for values other than strings (`1 == 1.0`,
  `i < n`, `n == null` raise "no matching overload" where the spec answers), and it takes `true ==
  1` for true (Python's bool is an int) where the spec says false; the subset's type checker keeps
  the last out of what is generated here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import celpy
import pytest
from celpy import celtypes
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dsl_compiler.conditions import ConditionError, check, parse
from dsl_compiler.evaluate import evaluate

SCHEMA = {"n": "number", "i": "integer", "s": "string", "t": "string", "b": "boolean", "c": "boolean"}
ENV = celpy.Environment()

DOUBLES = st.sampled_from(["-1.5", "0.0", "0.5", "2.0", "3.25"])
INTS = st.sampled_from(["-2", "0", "1", "2", "3"])
STRINGS = st.text("ab\"\\é", max_size=3).map(lambda s: json.dumps(s, ensure_ascii=False))
CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
EQ = st.sampled_from(["==", "!="])
BOOLS = st.sampled_from(["true", "false"])
STR_FIELD = st.sampled_from(["s", "t", "requester"])


def compare(fields: st.SearchStrategy[str], ops: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> Any:
    def render(field: str, op: str, value: str, flipped: bool) -> str:
        turned = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        return f"{value} {turned} {field}" if flipped else f"{field} {op} {value}"

    return st.builds(render, fields, ops, values, st.booleans())


def listed(field: str, values: st.SearchStrategy[str]) -> Any:
    return st.lists(values, min_size=1, max_size=3).map(lambda vs: f"{field} in [{', '.join(vs)}]")


ATOMS = st.one_of(
    compare(st.just("n"), CMP, DOUBLES),
    compare(st.just("i"), CMP, INTS),
    compare(STR_FIELD, CMP, STRINGS),
    compare(st.sampled_from(["b", "c"]), EQ, BOOLS),
    compare(st.sampled_from(list(SCHEMA)), EQ, st.just("null")),
    st.builds(lambda a, op, b: f"{a} {op} {b}", STR_FIELD, CMP, STR_FIELD),
    st.builds(lambda op: f"b {op} c", EQ),
    st.builds(lambda op: f"n {op} i", CMP),  # CEL compares across numeric types; cel-python does not
    listed("n", DOUBLES), listed("i", INTS), st.sampled_from(["s", "t"]).flatmap(lambda f: listed(f, STRINGS)),
    st.sampled_from([f"has({f})" for f in SCHEMA]),
    st.builds(lambda f, m, a: f"{f}.{m}({a})", STR_FIELD, st.sampled_from(["startsWith", "endsWith", "contains"]),
              STRINGS),
    st.sampled_from(["b", "c"]),
)
CONDITIONS = st.recursive(
    ATOMS,
    lambda sub: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", sub, sub),
        st.builds(lambda a, b: f"({a}) || ({b})", sub, sub),
        st.builds(lambda a, b: f"{a} || {b}", sub, sub),
        st.builds(lambda a: f"!({a})", sub),
        st.builds(lambda a: f"!{a}", sub),  # `!n > 1` is refused, by both
        st.builds(lambda a, op, v: f"({a}) {op} {v}", sub, EQ, BOOLS),  # a condition compared
        st.builds(lambda a, vs: f"({a}) in [{', '.join(vs)}]", sub, st.lists(BOOLS, min_size=1, max_size=2)),
    ),
    max_leaves=5,
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "n": st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.25]), "i": st.integers(-2, 3), "s": st.text("ab\"\\é", max_size=3),
    "t": st.text("ab", max_size=2), "b": st.booleans(), "c": st.booleans()}
# Each field absent now and then (a sixth of the time): absent, CEL has an error, not an answer.
INPUTS = st.fixed_dictionaries({k: st.one_of(st.just(...), *[v] * 5) for k, v in VALUES.items()}).map(
    lambda d: {k: v for k, v in d.items() if v is not ...})
_FIELD = re.compile(r'"(?:[^"\\]|\\.)*"|\b(' + "|".join(SCHEMA) + r')\b(?!\()')


def to_cel(text: str) -> str:
    """Our condition in CEL: declared fields read `input` (strings and method names left alone)."""
    return _FIELD.sub(lambda m: f"input.{m.group(1)}" if m.group(1) and text[m.start() - 1 : m.start()] != "."
                      else m.group(), text)


def cel(text: str, context: dict[str, Any]) -> Any:
    """cel-python's answer: a bool, or the CELEvalError it raised or returned."""
    activation = {"input": celpy.json_to_cel(context["input"]), "requester": celtypes.StringType(context["requester"])}
    try:
        return ENV.program(ENV.compile(text)).evaluate(activation)
    except celpy.CELEvalError as error:
        return error


def departure(error: celpy.CELEvalError, cel_text: str, context: dict[str, Any]) -> str | None:
    """Which known difference this error is, or None."""
    message = repr(error)  # an error of `&&` or `||` on errors carries theirs
    if "no such member" in message or "no such key" in message:
        read = set(re.findall(r"input\.(\w+)", cel_text))
        return "absent field" if read - set(context["input"]) else None
    if "overload" in message:
        mixed = "null" in cel_text or ("input.n" in cel_text and "input.i" in cel_text)
        return "heterogeneous comparison" if mixed else None
    return None


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=CONDITIONS, data=INPUTS, requester=st.text("ab", max_size=2))
@example(condition="!b in [false, true]", data={"b": False}, requester="a")
@example(condition="!c == false", data={"c": False}, requester="a")
@example(condition="has(i) == false", data={}, requester="a")
@example(condition='s.contains("a") == true', data={"s": "xa"}, requester="a")
@example(condition="n > 1 || has(n)", data={}, requester="a")
@example(condition="n < i", data={"n": 0.5, "i": 1}, requester="a")
def test_our_evaluator_agrees_with_cel(condition: str, data: dict[str, Any], requester: str) -> None:
    try:
        expr = parse(condition)
    except ConditionError:
        event("outside the subset")
        return
    if check(expr, SCHEMA):
        event("refused by the checker")
        return
    context = {"input": data, "requester": requester}
    ours = evaluate(expr, context)
    cel_text = to_cel(condition)
    theirs = cel(cel_text, context)
    if isinstance(theirs, celpy.CELEvalError):
        why = departure(theirs, cel_text, context)
        assert why, (cel_text, context, theirs)
        event(f"cel-python raises: {why}")
        return
    event("compared")
    assert isinstance(theirs, celtypes.BoolType), (cel_text, theirs)
    assert ours is bool(theirs), (condition, cel_text, context)


@pytest.mark.parametrize(
    ("text", "activation", "expected"),
    [
        ("!b in [false, true]", {"b": False}, True),  # (!b) in [...]
        ("!c == null", {"c": False}, False),  # (!c) == null: the checker refuses it, a condition is never null
        ("has(input.x) == false", {"input": {}}, True),
        ("true == 1", {}, True),  # cel-python's departure: the spec says false
    ],
)
def test_what_cel_python_says_about_the_examples(text: str, activation: dict[str, Any], expected: bool) -> None:
    program = ENV.program(ENV.compile(text))
    assert bool(program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})) is expected


def test_cel_python_refuses_what_the_checker_refuses() -> None:
    for text in ["!input.n > 1", "input.i > 9223372036854775808"]:
        assert isinstance(cel(text, {"input": {"n": 2.0, "i": 1}, "requester": ""}), celpy.CELEvalError)
    with pytest.raises(celpy.CELParseError):
        ENV.compile('"a\nb" == "x"')


def test_translation_to_cel() -> None:
    assert to_cel('s.startsWith("s") && has(b) || requester == "n"') == \
        'input.s.startsWith("s") && has(input.b) || requester == "n"'
