"""A request's input checked against its flow's `input_schema` (the JSON Schema subset the compiler
writes: an object of typed properties with `required`, `default`, `enum`, `minimum`, `maximum`,
`maxLength`, `maxItems`, `format: date-time`, `items` and `additionalProperties: false`). Every problem
is reported, not the first.

Whatever the schema, every value must also be one the approvals table can store (an approval
keeps its input in DynamoDB, whose numbers have at most 38 digits and magnitudes from 1E-130 to
below 1E+126, whose attributes nest at most 32 levels, and whose strings are UTF-8: a lone
surrogate cannot be written): anything else is refused here, naming its field, rather than
failing the write later."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import InvalidInput

_TYPE_NAMES = {
    "string": "a string", "number": "a number", "integer": "an integer", "boolean": "true or false",
    "array": "a list", "object": "an object", "null": "null",
}
# RFC 3339, the ISO 8601 profile a Step Functions Wait takes (`TimestampPath`): an upper-case T, seconds,
# and a zone (an upper-case Z or a numeric offset).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_DATE_TIME_PROBLEM = "must be an ISO 8601 timestamp with a time zone, like 2026-12-01T09:00:00Z"
# What DynamoDB stores (boto3 turns an int into a Decimal of the same digits, trailing zeros included;
# a float as its repr). MAX_DEPTH leaves room for the attributes an input is kept under (32 in all).
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125
MAX_DEPTH = 16
_INT_LIMIT = 10**MAX_DIGITS
_NOT_TEXT = "is not valid Unicode text (a lone surrogate, \\ud800-\\udfff)"
# The message names at most this many fields (the details list them all).
_NAMED_FIELDS = 10


def type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return True  # a type this subset does not know is not held against the request


def is_text(value: str) -> bool:
    """Whether `value` is text UTF-8 can encode (JSON's `"\\ud800"` escape makes a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_name(name: Any) -> str:
    """`name` as a field to name back: a lone surrogate in it written as its escape (`\\ud800`)."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


def number_problem(value: int | float) -> str | None:
    """Why DynamoDB cannot store the number `value`, or None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "must be a finite number"
        exponent = Decimal(repr(value)).adjusted() if value else 0
        if exponent > MAX_EXPONENT:
            return f"must be less than 1E+{MAX_EXPONENT + 1} in magnitude"
        if exponent < MIN_EXPONENT:
            return f"must be 0 or at least 1E{MIN_EXPONENT} in magnitude"
        return None
    if abs(value) >= _INT_LIMIT:
        return f"must have at most {MAX_DIGITS} digits"
    return None


def storable_problems(field: str, value: Any) -> list[dict[str, str]]:
    """Everything in `value` (the field `field` of an input) that DynamoDB cannot store: lone
    surrogates in strings and keys, numbers out of its range, nesting deeper than MAX_DEPTH.
    Iterative: the value may come from a parser that let it nest deeper than Python recurses."""
    problems: list[dict[str, str]] = []
    pending: list[tuple[str, Any, int]] = [(field, value, 0)]
    while pending:
        where, item, depth = pending.pop()
        if isinstance(item, dict | list) and depth >= MAX_DEPTH:
            problems.append({"field": where, "problem": f"nests lists and objects more than {MAX_DEPTH} levels deep"})
        elif isinstance(item, dict):
            keys = {key for key in item if not isinstance(key, str) or not is_text(key)}
            if keys:
                problems.append({"field": where, "problem": f"has a key that {_NOT_TEXT}"})
            children = [(f"{where}.{key}", v, depth + 1) for key, v in item.items() if key not in keys]
            pending.extend(reversed(children))
        elif isinstance(item, list):
            pending.extend(reversed([(f"{where}[{i}]", v, depth + 1) for i, v in enumerate(item)]))
        elif isinstance(item, str) and not is_text(item):
            problems.append({"field": where, "problem": _NOT_TEXT})
        elif isinstance(item, int | float) and not isinstance(item, bool):
            problem = number_problem(item)
            if problem:
                problems.append({"field": where, "problem": problem})
    return problems


def _check_value(field: str, schema: Mapping[str, Any], value: Any, problems: list[dict[str, str]]) -> None:
    kind = schema.get("type")
    if isinstance(kind, str) and not type_ok(kind, value):
        problems.append({"field": field, "problem": f"must be {_TYPE_NAMES.get(kind, kind)}"})
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        problems.append({"field": field, "problem": f"must be one of {allowed}"})
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and "minimum" in schema and value < schema["minimum"]:
        problems.append({"field": field, "problem": f"must be at least {_number(schema['minimum'])}"})
    if numeric and "maximum" in schema and value > schema["maximum"]:
        problems.append({"field": field, "problem": f"must be at most {_number(schema['maximum'])}"})
    limit = schema.get("maxLength", schema.get("max_length"))
    if isinstance(value, str) and limit is not None and len(value) > int(limit):
        problems.append({"field": field, "problem": f"must be at most {int(limit)} characters"})
    if isinstance(value, str) and schema.get("format") == "date-time" and not is_date_time(value):
        problems.append({"field": field, "problem": _DATE_TIME_PROBLEM})
    items = schema.get("maxItems", schema.get("max_length"))
    if isinstance(value, list) and items is not None and len(value) > int(items):
        problems.append({"field": field, "problem": f"must have at most {_count(int(items), 'item')}"})
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            _check_value(f"{field}[{index}]", schema["items"], item, problems)


def is_date_time(text: str) -> bool:
    """An ISO 8601 timestamp with a time zone, as a Step Functions Wait takes it (`2026-12-01T09:00:00Z`)."""
    if not _DATE_TIME.fullmatch(text):
        return False
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:  # a month 13, a 25th hour...
        return False
    return parsed.tzinfo is not None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def validate_input(schema: Mapping[str, Any] | None, data: Any) -> dict[str, Any]:
    """`data` with defaults filled in; InvalidInput with one detail per problem otherwise. An optional
    field sent as null counts as absent (its default applies)."""
    if not isinstance(data, Mapping):
        raise InvalidInput("input must be an object", [{"field": "input", "problem": "must be an object"}])
    schema = schema or {}
    properties: Mapping[str, Any] = schema.get("properties") or {}
    problems: list[dict[str, str]] = []
    if schema.get("additionalProperties") is False:
        for name in data:
            if name not in properties and isinstance(name, str) and is_text(name):
                problems.append({"field": field_name(name), "problem": "is not a field of this flow"})
    required = set(schema.get("required") or ())
    result: dict[str, Any] = {}
    data = {k: v for k, v in data.items() if not (v is None and k in properties and k not in required)}
    for name, value in data.items():
        if not isinstance(name, str) or not is_text(name):
            problems.append({"field": field_name(name), "problem": f"is a field name that {_NOT_TEXT}"})
            continue
        unstorable = storable_problems(name, value)
        problems.extend(unstorable)
        if name in properties and not unstorable:
            _check_value(name, properties[name], value, problems)
        result[name] = value
    for name, field_schema in properties.items():
        if name in data:
            continue
        if name in required:
            problems.append({"field": name, "problem": "is required"})
        elif isinstance(field_schema, Mapping) and "default" in field_schema:
            result[name] = copy.deepcopy(field_schema["default"])
    if problems:
        named = list(dict.fromkeys(p["field"] for p in problems))
        fields = ", ".join(named[:_NAMED_FIELDS]) + (f" and {len(named) - _NAMED_FIELDS} more"
                                                      if len(named) > _NAMED_FIELDS else "")
        raise InvalidInput(f"the input does not fit the flow ({fields})", problems)
    return result
