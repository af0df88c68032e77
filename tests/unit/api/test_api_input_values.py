"""A flow's input must be storable: numbers DynamoDB can hold, valid Unicode text, bounded nesting;
else 400 naming the field (domain/validation.py `validate_input`, which start, preview and resubmit
run at the API's boundary). Here next to the API tests, as the answers the API gives for them."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer

from approvals.adapters.store_items import to_ddb
from approvals.domain import InvalidInput
from approvals.domain.validation import MAX_DEPTH, validate_input

PURCHASE = {"type": "object", "additionalProperties": False, "required": ["amount"],
            "properties": {"amount": {"type": "number", "minimum": 0}, "reason": {"type": "string"},
                           "count": {"type": "integer"}, "receipts": {"type": "array", "items": {"type": "string"}},
                           "extra": {}}}
OPEN = {"type": "object", "properties": {"amount": {"type": "number"}}}  # other fields allowed


def problems(schema: dict[str, Any], data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as raised:
        validate_input(schema, data)
    return list(raised.value.details)


def stores(value: Any) -> bool:
    """Whether to_ddb (what the store writes with) takes `value` as an input field."""
    try:
        to_ddb({"input": {"x": value}})
    except Exception:
        return False
    return True


# --- 4. numbers -----------------------------------------------------------------------------


# boto3 refuses some before sending (its context: 38 digits, exponents -128..126); DynamoDB refuses
# the rest of what its documentation excludes (magnitudes 1E-130 to 9.99...E+125).
@pytest.mark.parametrize(("amount", "problem", "boto3_refuses"), [
    (1e200, "less than 1E+126", True), (1e126, "less than 1E+126", False), (1e-200, "at least 1E-130", True),
    (1e-131, "at least 1E-130", False), (10**38, "at most 38 digits", True), (-(10**38), "at most 38 digits", True),
    pytest.param(int("9" * 4000), "at most 38 digits", True, id="4000 digits"), (math.nan, "finite", True),
    (math.inf, "finite", True), (-math.inf, "finite", True),
])
def test_numbers_dynamodb_cannot_store_are_refused_naming_the_field(amount: Any, problem: str,
                                                                    boto3_refuses: bool) -> None:
    found = problems(PURCHASE, {"amount": amount})
    assert len(found) == 1 and found[0]["field"] == "amount" and problem in found[0]["problem"], found
    assert stores(amount) is not boto3_refuses  # the write it saves from failing (a 500, or a 409 in moto)


@pytest.mark.parametrize("amount", [0, 0.0, -0.0, 1, 0.1, 9.9e125, -9.9e125, 1e-130, 10**38 - 1, -(10**38 - 1),
                                    123.456, 5e-324 * 0])
def test_numbers_dynamodb_can_store_are_accepted(amount: Any) -> None:
    assert validate_input(OPEN, {"amount": amount})["amount"] == amount
    assert stores(amount)
    if amount:
        DYNAMODB_CONTEXT.create_decimal(Decimal(repr(amount)) if isinstance(amount, float) else amount)


def test_numbers_are_checked_wherever_they_are() -> None:
    data = {"amount": 1, "count": 10**40, "extra": {"deep": [1, {"x": 1e300}]}, "other": 1e-300}
    found = problems(OPEN | {"properties": PURCHASE["properties"]}, data)
    assert {(p["field"], p["problem"].split(" ")[0]) for p in found} == {
        ("count", "must"), ("extra.deep[1].x", "must"), ("other", "must")}


def test_an_unstorable_value_is_not_also_checked_against_the_schema() -> None:
    found = problems({"properties": {"days": {"type": "number", "maximum": 60}}}, {"days": 1e200})
    assert found == [{"field": "days", "problem": "must be less than 1E+126 in magnitude"}]


def test_a_boolean_is_not_a_number_here() -> None:
    assert validate_input(OPEN, {"flag": True}) == {"flag": True}


# --- 5. lone surrogates ---------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_naming_the_field() -> None:
    data = json.loads('{"amount": 1, "reason": "a\\ud800b"}')
    found = problems(PURCHASE, data)
    assert [p["field"] for p in found] == ["reason"]
    assert "surrogate" in found[0]["problem"] and "Error" not in found[0]["problem"]
    with pytest.raises(InvalidInput) as raised:
        validate_input(PURCHASE, data)
    assert "reason" in str(raised.value) and "Unicode" not in str(raised.value).split("(")[0]


def test_lone_surrogates_in_items_keys_and_field_names() -> None:
    data = json.loads('{"amount": 1, "receipts": ["ok", "\\udfff"], "extra": {"\\udc80": 1}, "\\ud83d": 2}')
    found = problems(PURCHASE, data)
    assert [p["field"] for p in found] == ["receipts[1]", "extra", "\\ud83d"]
    # what names a field is valid text itself: the surrogate written as its escape
    json.dumps(found, ensure_ascii=False).encode("utf-8")


def test_a_surrogate_pair_is_text() -> None:
    data = json.loads('{"amount": 1, "reason": "\\ud83d\\ude00"}')
    assert validate_input(PURCHASE, data)["reason"] == "\U0001f600"


# --- nesting --------------------------------------------------------------------------------


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_values_nest_at_most_max_depth() -> None:
    assert validate_input(OPEN, {"tree": deep(MAX_DEPTH)})["tree"] == deep(MAX_DEPTH)
    found = problems(OPEN, {"tree": deep(MAX_DEPTH + 1)})
    assert len(found) == 1 and found[0]["field"].startswith("tree[0]") and "16 levels" in found[0]["problem"]


def test_nesting_is_checked_without_recursion() -> None:
    # validate_input also reads inputs that never went through the API (the Approval Requested event)
    found = problems(OPEN, {"tree": deep(100_000)})
    assert len(found) == 1


# --- every problem, a short message ---------------------------------------------------------


def test_the_message_names_a_few_fields_the_details_all() -> None:
    found = problems(PURCHASE, {"amount": 1, "receipts": [1] * 1000})
    assert len(found) == 1000
    with pytest.raises(InvalidInput) as raised:
        validate_input(PURCHASE, {"amount": 1, "receipts": [1] * 1000})
    assert len(str(raised.value)) < 300 and str(raised.value).endswith("and 990 more)")


def test_boto3_serializer_agrees_on_the_limits() -> None:
    serializer = TypeSerializer()
    serializer.serialize(Decimal("9.9E+125"))
    serializer.serialize(Decimal("1E-130"))
    serializer.serialize(10**38 - 1)
    with pytest.raises(Exception):  # noqa: B017 - decimal.Rounded / Inexact, as boto3 traps them
        serializer.serialize(10**38)
