"""A request's input checked against its flow's `input_schema` (the JSON Schema subset the compiler
writes: an object of typed properties with `required`, `default`, `enum`, `minimum`, `maximum`,
`maxLength`, `maxItems`, `format: date-time`, `items` and `additionalProperties: false`). Every problem
is reported, not the first."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from datetime import datetime
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
            if name not in properties:
                problems.append({"field": str(name), "problem": "is not a field of this flow"})
    required = set(schema.get("required") or ())
    result: dict[str, Any] = {}
    data = {k: v for k, v in data.items() if not (v is None and k in properties and k not in required)}
    for name, value in data.items():
        if name in properties:
            _check_value(str(name), properties[name], value, problems)
        result[str(name)] = value
    for name, field_schema in properties.items():
        if name in data:
            continue
        if name in required:
            problems.append({"field": name, "problem": "is required"})
        elif isinstance(field_schema, Mapping) and "default" in field_schema:
            result[name] = copy.deepcopy(field_schema["default"])
    if problems:
        fields = ", ".join(dict.fromkeys(p["field"] for p in problems))
        raise InvalidInput(f"the input does not fit the flow ({fields})", problems)
    return result
