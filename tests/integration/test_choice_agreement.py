"""The compiled Choice rules mean what the reference evaluator says, run in moto's ASL interpreter.

Random well-typed conditions over a fixed schema and random inputs for it (fields absent, null,
and now and then of the wrong JSON type) go through a one-Choice state machine; the execution's
answer must equal `evaluate(...)`.

What moto's interpreter (moto/stepfunctions/parser/asl, a copy of LocalStack's) does differently
from AWS, and how this test deals with it:
- StringMatches is `fnmatch.fnmatch` there: `?` and `[...]` are wildcards and a backslash escapes
  nothing. AWS documents only `*` as special, with `\\*` and `\\\\` as escapes, which is what
  `choice.py` emits. No single pattern means the same to both, so this test swaps in a matcher
  that follows AWS's documented rule (`_aws_string_matches`); everything else is moto's own code.
  Local runs in moto or LocalStack will get `startsWith("a*")` and friends wrong, AWS will not.
- Its ASL lexer rejects numbers whose exponent has a leading zero (`1.5e-07`, Python's repr of
  small floats) although that is valid JSON and AWS takes it; the literals here avoid them.
- Elsewhere it agrees with AWS for what the rules use: IsNumeric is false for JSON booleans and
  true for ints and floats alike, typed comparisons are false on a value of another type, IsNull
  and IsPresent tell null from absent, and a *Path comparison whose path is missing (or whose
  value has the wrong type) fails the execution, as on AWS; hence the IsPresent/Is* guards
  first in every And, which both evaluate lazily.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators import (
    StringMatches,
)

from dsl_compiler.choice import to_choice_rule
from dsl_compiler.conditions import check, parse
from dsl_compiler.evaluate import evaluate

ROLE = "arn:aws:iam::123456789012:role/sfn"
SCHEMA = {"n": "number", "i": "integer", "s": "string", "t": "string", "b": "boolean", "c": "boolean", "meta": "object"}
ALPHABET = "ab*\\?[]é"  # the characters StringMatches could trip over, and one beyond ASCII
_names = itertools.count()
_MOTO_STRING_MATCHES = StringMatches._compare


def _aws_string_matches(variable: Any, pattern: Any) -> bool:
    """StringMatches as AWS documents it: `*` matches any run of characters, `\\` escapes the next one."""
    if not isinstance(variable, str):
        return False
    regex = "".join(
        ".*" if tok == "*" else re.escape(tok[-1]) for tok in re.findall(r"\\.|.", pattern, flags=re.DOTALL)
    )
    return re.fullmatch(regex, variable, flags=re.DOTALL) is not None


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        mock.patch.object(StringMatches, "_compare", staticmethod(_aws_string_matches)),
    ):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run_choice(sfn: Any, rule: dict[str, Any], execution_input: dict[str, Any]) -> bool:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "T"}], "Default": "F"},
            "T": {"Type": "Pass", "Result": True, "End": True},
            "F": {"Type": "Pass", "Result": False, "End": True},
        },
    }
    arn = sfn.create_state_machine(name=f"choice-{next(_names)}", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.005)
    assert described["status"] == "SUCCEEDED", described
    answer = json.loads(described["output"])
    assert isinstance(answer, bool)
    return answer


# --- conditions over SCHEMA (always well typed) ------------------------------------------

NUMBERS = st.sampled_from([-2, 0, 1, 2, 3, 0.5, 1.5, 2.0, -1.5])  # no exponents, see above
STRINGS = st.text(ALPHABET, max_size=3)
CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
EQ = st.sampled_from(["==", "!="])
NUM_FIELD = st.sampled_from(["n", "i", "meta.x"])
STR_FIELD = st.sampled_from(["s", "t", "requester", "meta.x"])
BOOL_FIELD = st.sampled_from(["b", "c", "meta.x"])
ANY_FIELD = st.sampled_from(["n", "i", "s", "t", "b", "c", "requester", "meta", "meta.x", "meta.y.z"])


def lit(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def comparison(fields: st.SearchStrategy[str], ops: st.SearchStrategy[str], values: st.SearchStrategy[Any]) -> Any:
    def render(field: str, op: str, value: Any, flipped: bool) -> str:
        turned = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        return f"{lit(value)} {turned} {field}" if flipped else f"{field} {op} {lit(value)}"

    return st.builds(render, fields, ops, values, st.booleans())


def pair(fields: st.SearchStrategy[str], ops: st.SearchStrategy[str]) -> Any:
    return st.builds(lambda a, op, b: f"{a} {op} {b}", fields, ops, fields)


ATOMS = st.one_of(
    comparison(NUM_FIELD, CMP, NUMBERS),
    comparison(STR_FIELD, CMP, STRINGS),
    comparison(BOOL_FIELD, EQ, st.booleans()),
    comparison(ANY_FIELD, EQ, st.none()),
    pair(NUM_FIELD, CMP),
    pair(STR_FIELD, CMP),
    pair(BOOL_FIELD, EQ),
    st.builds(lambda a, op, b: f"{a} {op} {b}", st.just("meta.x"), EQ, ANY_FIELD.filter(lambda f: f != "meta")),
    st.builds(
        lambda f, vs: f"{f} in [{', '.join(map(lit, vs))}]", NUM_FIELD, st.lists(NUMBERS | st.none(), min_size=1)
    ),
    st.builds(lambda f, vs: f"{f} in [{', '.join(map(lit, vs))}]", STR_FIELD, st.lists(STRINGS, min_size=1)),
    st.builds(lambda f: f"has({f})", ANY_FIELD),
    st.builds(
        lambda f, m, a: f"{f}.{m}({lit(a)})",
        STR_FIELD,
        st.sampled_from(["startsWith", "endsWith", "contains"]),
        STRINGS,
    ),
    BOOL_FIELD,
)
CONDITIONS = st.recursive(
    ATOMS,
    lambda sub: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", sub, sub),  # no parentheses: precedence is part of the test
        st.builds(lambda a, b: f"({a}) || ({b})", sub, sub),
        st.builds(lambda a, b: f"{a} || {b}", sub, sub),
        st.builds(lambda a: f"!({a})", sub),
        # As in CEL, `!` binds tighter than a comparison: without parentheses it negates a primary
        # (`!b`, `!has(x)`, `!s.contains("a")`, `!(...)`); `!n == 1` is `(!n) == 1`, a type error.
        st.builds(lambda a: f"!{a}", st.one_of(BOOL_FIELD, st.builds(lambda f: f"has({f})", ANY_FIELD),
                                               sub.map(lambda a: f"({a})"))),
    ),
    max_leaves=6,
)

# --- inputs for SCHEMA: absent, null, well typed, or (rarely) of another JSON type -------

SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
OBJECTS_WITH_Z = st.fixed_dictionaries({}, optional={"z": SCALARS})


def slot(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(...), st.none(), good, good, good, SCALARS)  # ... stands for absent


INPUTS = st.fixed_dictionaries(
    {
        "n": slot(NUMBERS),
        "i": slot(st.integers(-2, 3)),
        "s": slot(STRINGS),
        "t": slot(STRINGS),
        "b": slot(st.booleans()),
        "c": slot(st.booleans()),
        "meta": slot(st.fixed_dictionaries({}, optional={"x": SCALARS, "y": SCALARS | OBJECTS_WITH_Z})),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not ...})
CONTEXTS = st.fixed_dictionaries({"input": INPUTS, "requester": STRINGS})

TRICKY: list[tuple[str, dict[str, Any]]] = [
    ("n != 1", {"input": {}, "requester": "a"}),
    ("!(n != 1)", {"input": {}, "requester": "a"}),
    ("n == null", {"input": {"n": None}, "requester": "a"}),
    ("n != null || n == null", {"input": {}, "requester": "a"}),
    ("!(n < 1) && !(n >= 1)", {"input": {"n": None}, "requester": "a"}),
    ("n == i && n >= i && !(n < i)", {"input": {"n": 2.0, "i": 2}, "requester": "a"}),
    ("n > 0 || n == 1 || n in [1]", {"input": {"n": True}, "requester": "a"}),
    ("b || b == true || b != false", {"input": {"b": 1}, "requester": "a"}),
    ("b != c", {"input": {"b": True, "c": None}, "requester": "a"}),
    ('s.startsWith("a*")', {"input": {"s": "a*b"}, "requester": "a"}),
    ('s.startsWith("a*")', {"input": {"s": "abc"}, "requester": "a"}),
    ('s.contains("\\\\")', {"input": {"s": "x\\y"}, "requester": "a"}),
    ('s.contains("\\\\*")', {"input": {"s": "\\x*"}, "requester": "a"}),
    ('s.endsWith("?")', {"input": {"s": "ab"}, "requester": "a"}),
    ('s.contains("[a]")', {"input": {"s": "a"}, "requester": "a"}),
    ('s.contains("")', {"input": {"s": ""}, "requester": "a"}),
    ('s < "b" && s >= "a"', {"input": {"s": "aé"}, "requester": "a"}),
    ("s == t || s < t", {"input": {"s": "b", "t": 1}, "requester": "a"}),
    ("meta.x == 1 || has(meta.x) || has(meta.y.z)", {"input": {"meta": "x"}, "requester": "a"}),
    ("has(meta.y.z) || meta.y.z == null", {"input": {"meta": {"y": None}}, "requester": "a"}),
    ("meta.x < s || meta.x == s", {"input": {"meta": {"x": 1}, "s": "a"}, "requester": "a"}),
    ("meta.x != meta.y", {"input": {"meta": {"x": [1], "y": [1]}}, "requester": "a"}),
    ('requester in ["a", "b"] && requester.startsWith("")', {"input": {}, "requester": "b"}),
    ("has(requester) && !has(meta)", {"input": {}, "requester": ""}),
    ("n in [1, 2.5, null]", {"input": {"n": None}, "requester": "a"}),
    ("i in [2.0] && i == 2.0 && 2 <= i", {"input": {"i": 2}, "requester": "a"}),
]


def _agreement(sfn: Any, condition: str, context: dict[str, Any]) -> None:
    expr = parse(condition)
    assert check(expr, SCHEMA) == []
    assert run_choice(sfn, to_choice_rule(expr), context) is evaluate(expr, context), condition


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=CONDITIONS, context=CONTEXTS)
def test_choice_rule_agrees_with_evaluate(sfn: Any, condition: str, context: dict[str, Any]) -> None:
    _agreement(sfn, condition, context)


for _condition, _context in TRICKY:
    test_choice_rule_agrees_with_evaluate = example(condition=_condition, context=_context)(
        test_choice_rule_agrees_with_evaluate
    )


def test_the_aws_matcher_differs_from_moto_where_the_comment_says() -> None:
    # The reason for the swap above: moto's own StringMatches reads AWS's escapes differently.
    assert _aws_string_matches("a*b", "a\\**") and not _MOTO_STRING_MATCHES("a*b", "a\\**")
    assert not _aws_string_matches("axb", "a?b") and _MOTO_STRING_MATCHES("axb", "a?b")
    assert _aws_string_matches("x\\y", "*\\\\*")
