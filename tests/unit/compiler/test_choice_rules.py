"""Golden Choice rules for a few conditions (their meaning is tested in tests/integration)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dsl_compiler.choice import string_matches_pattern, to_choice_rule
from dsl_compiler.conditions import parse


def present(v: str) -> dict[str, Any]:
    return {"Variable": v, "IsPresent": True}


def rule(v: str, op: str, value: Any) -> dict[str, Any]:
    return {"Variable": v, op: value}


DAYS, REGION, URGENT = "$.input.days", "$.input.region", "$.input.urgent"

GOLDEN: list[tuple[str, dict[str, Any]]] = [
    ("days > 3", {"And": [present(DAYS), rule(DAYS, "IsNumeric", True), rule(DAYS, "NumericGreaterThan", 3)]}),
    # a literal on the left is turned around
    (
        "0.5 <= days",
        {"And": [present(DAYS), rule(DAYS, "IsNumeric", True), rule(DAYS, "NumericGreaterThanEquals", 0.5)]},
    ),
    ('region < "M"', {"And": [present(REGION), rule(REGION, "IsString", True), rule(REGION, "StringLessThan", "M")]}),
    # != is the Not of the equals inside the presence test: an absent field is not "different"
    (
        'region != "EU"',
        {
            "And": [
                present(REGION),
                {"Not": {"And": [rule(REGION, "IsString", True), rule(REGION, "StringEquals", "EU")]}},
            ]
        },
    ),
    ("region == null", {"And": [present(REGION), rule(REGION, "IsNull", True)]}),
    ("region != null", {"And": [present(REGION), {"Not": rule(REGION, "IsNull", True)}]}),
    ("urgent", {"And": [present(URGENT), rule(URGENT, "IsBoolean", True), rule(URGENT, "BooleanEquals", True)]}),
    (
        "amount >= 1000000 && !urgent",
        {
            "And": [
                {
                    "And": [
                        present("$.input.amount"),
                        rule("$.input.amount", "IsNumeric", True),
                        rule("$.input.amount", "NumericGreaterThanEquals", 1000000),
                    ]
                },
                {
                    "Not": {
                        "And": [present(URGENT), rule(URGENT, "IsBoolean", True), rule(URGENT, "BooleanEquals", True)]
                    }
                },
            ]
        },
    ),
    # chains of || (and of &&) become one Or (And)
    (
        'requester == "ann" || (has(meta.x) || urgent == false)',
        {
            "Or": [
                {
                    "And": [
                        present("$.requester"),
                        rule("$.requester", "IsString", True),
                        rule("$.requester", "StringEquals", "ann"),
                    ]
                },
                present("$.input.meta.x"),
                {"And": [present(URGENT), rule(URGENT, "IsBoolean", True), rule(URGENT, "BooleanEquals", False)]},
            ]
        },
    ),
    (
        'region in ["EU", "US"]',
        {
            "And": [
                present(REGION),
                rule(REGION, "IsString", True),
                {"Or": [rule(REGION, "StringEquals", "EU"), rule(REGION, "StringEquals", "US")]},
            ]
        },
    ),
    (
        "days in [1, null, 2.5]",
        {
            "And": [
                present(DAYS),
                {
                    "Or": [
                        {
                            "And": [
                                rule(DAYS, "IsNumeric", True),
                                {"Or": [rule(DAYS, "NumericEquals", 1), rule(DAYS, "NumericEquals", 2.5)]},
                            ]
                        },
                        rule(DAYS, "IsNull", True),
                    ]
                },
            ]
        },
    ),
    (
        'meta.name.startsWith("A*\\\\")',
        {
            "And": [
                present("$.input.meta.name"),
                rule("$.input.meta.name", "IsString", True),
                rule("$.input.meta.name", "StringMatches", "A\\*\\\\*"),
            ]
        },
    ),
    (
        'region.endsWith("U")',
        {"And": [present(REGION), rule(REGION, "IsString", True), rule(REGION, "StringMatches", "*U")]},
    ),
    (
        'region.contains("?")',
        {"And": [present(REGION), rule(REGION, "IsString", True), rule(REGION, "StringMatches", "*?*")]},
    ),
    (
        "days < hours",
        {
            "And": [
                present(DAYS),
                present("$.input.hours"),
                {
                    "Or": [
                        {
                            "And": [
                                rule(DAYS, "IsNumeric", True),
                                rule("$.input.hours", "IsNumeric", True),
                                rule(DAYS, "NumericLessThanPath", "$.input.hours"),
                            ]
                        },
                        {
                            "And": [
                                rule(DAYS, "IsString", True),
                                rule("$.input.hours", "IsString", True),
                                rule(DAYS, "StringLessThanPath", "$.input.hours"),
                            ]
                        },
                    ]
                },
            ]
        },
    ),
    (
        "region != requester",
        {
            "And": [
                present(REGION),
                present("$.requester"),
                {
                    "Not": {
                        "Or": [
                            {
                                "And": [
                                    rule(REGION, "IsNumeric", True),
                                    rule("$.requester", "IsNumeric", True),
                                    rule(REGION, "NumericEqualsPath", "$.requester"),
                                ]
                            },
                            {
                                "And": [
                                    rule(REGION, "IsString", True),
                                    rule("$.requester", "IsString", True),
                                    rule(REGION, "StringEqualsPath", "$.requester"),
                                ]
                            },
                            {
                                "And": [
                                    rule(REGION, "IsBoolean", True),
                                    rule("$.requester", "IsBoolean", True),
                                    rule(REGION, "BooleanEqualsPath", "$.requester"),
                                ]
                            },
                            {"And": [rule(REGION, "IsNull", True), rule("$.requester", "IsNull", True)]},
                        ]
                    }
                },
            ]
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN, ids=[text for text, _ in GOLDEN])
def test_golden_rules(text: str, expected: dict[str, Any]) -> None:
    assert to_choice_rule(parse(text)) == expected


def test_output_is_deterministic_json() -> None:
    text = 'a in [1, "x", null, true, 2] && (b < c || !d.contains("*")) || has(e.f)'
    first = json.dumps(to_choice_rule(parse(text)))
    assert all(json.dumps(to_choice_rule(parse(text))) == first for _ in range(3))
    assert '"Next"' not in first


def test_same_field_twice_is_tested_for_presence_once() -> None:
    conditions = to_choice_rule(parse("a == a"))["And"]
    assert [c for c in conditions if c.get("IsPresent")] == [present("$.input.a")]


@pytest.mark.parametrize(
    ("prefix", "text", "suffix", "pattern"),
    [
        ("", "plain", "*", "plain*"),
        ("*", "a*b", "", "*a\\*b"),
        ("*", "back\\slash", "*", "*back\\\\slash*"),
        ("", "\\*", "*", "\\\\\\**"),
        ("", "?[x]", "", "?[x]"),  # only * and \ are special to StringMatches
    ],
)
def test_string_matches_escaping(prefix: str, text: str, suffix: str, pattern: str) -> None:
    assert string_matches_pattern(prefix, text, suffix) == pattern


@pytest.mark.parametrize("text", ["1 == 1", "days < null", "days > true"])
def test_unchecked_conditions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        to_choice_rule(parse(text))
