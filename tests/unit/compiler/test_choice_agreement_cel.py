"""The property test of tests/integration/test_choice_agreement.py (compiled Choice rules run in
moto's ASL interpreter agree with the evaluator preview uses), on conditions with CEL's forms that
compare a condition: `has(x) == false`, `s.contains("a") == true`, `!b in [false, true]`,
`(a || b) != true`. Its strategies, machine and AWS StringMatches are reused as they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dsl_compiler.choice import to_choice_rule
from dsl_compiler.conditions import check, parse
from dsl_compiler.evaluate import evaluate
from tests.integration.test_choice_agreement import (
    ANY_FIELD,
    ATOMS,
    CONTEXTS,
    SCHEMA,
    STR_FIELD,
    STRINGS,
    StringMatches,
    _aws_string_matches,
    lit,
    run_choice,
)

TRUTH = st.sampled_from(["true", "false"])
COMPARED = st.one_of(
    st.builds(lambda f, op, v: f"has({f}) {op} {v}", ANY_FIELD, st.sampled_from(["==", "!="]), TRUTH),
    st.builds(lambda f, m, a, v: f"{f}.{m}({lit(a)}) == {v}", STR_FIELD,
              st.sampled_from(["startsWith", "endsWith", "contains"]), STRINGS, TRUTH),
    st.builds(lambda f, v: f"!{f} == {v}", st.sampled_from(["b", "c", "meta.x"]), TRUTH),
    st.builds(lambda f, vs: f"!{f} in [{', '.join(vs)}]", st.sampled_from(["b", "c"]),
              st.lists(TRUTH, min_size=1, max_size=2)),
)
CONDITIONS = st.recursive(
    st.one_of(COMPARED, ATOMS),
    lambda sub: st.one_of(
        st.builds(lambda a, b: f"{a} && {b}", sub, sub),
        st.builds(lambda a, b: f"{a} || {b}", sub, sub),
        st.builds(lambda a, op, v: f"({a}) {op} {v}", sub, st.sampled_from(["==", "!="]), TRUTH),
        st.builds(lambda a, vs: f"({a}) in [{', '.join(vs)}]", sub, st.lists(TRUTH, min_size=1, max_size=2)),
        st.builds(lambda a: f"!({a})", sub),
    ),
    max_leaves=4,
)


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        mock.patch.object(StringMatches, "_compare", staticmethod(_aws_string_matches)),
    ):
        yield boto3.client("stepfunctions", region_name="us-east-1")


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=CONDITIONS, context=CONTEXTS)
@example(condition="!b in [false, true]", context={"input": {"b": False}, "requester": "a"})
@example(condition="has(meta.x) == false", context={"input": {}, "requester": "a"})
@example(condition='s.contains("a") == true', context={"input": {"s": "xa"}, "requester": "a"})
@example(condition='(s.contains("a") || b) != true', context={"input": {"b": 1}, "requester": "a"})
@example(condition="!meta.x == false", context={"input": {"meta": {"x": "t"}}, "requester": "a"})
def test_choice_rule_agrees_with_evaluate_on_compared_conditions(
    sfn: Any, condition: str, context: dict[str, Any]
) -> None:
    expr = parse(condition)
    assert check(expr, SCHEMA) == []
    assert run_choice(sfn, to_choice_rule(expr), context) is evaluate(expr, context), condition
