"""A request's body before powertools reads it, and the JSON parser powertools reads it with.

powertools (3.37) decodes the body (`base64`, then UTF-8) and parses it with `json.loads`; what
either raises on the caller's bad bytes, other than a `JSONDecodeError`, would be a 500. So the
admission step (app.py `admit`) checks what parsing cannot survive first: bytes that are not UTF-8
(or a base64 body that is not base64), and nesting deeper than MAX_NESTING (Python's parser recurses,
RecursionError at about 1,000 levels; the check here does not recurse). `parse`, powertools' JSON
deserializer for this API, answers the rest: an integer longer than Python's int-string limit.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from typing import Any

from .errors import InvalidBody

MAX_BODY_BYTES = 256 * 1024
# Arrays and objects inside one another, the body's own braces included (`{"input": {...}}` is 2).
MAX_NESTING = 64

# A JSON string (escapes included) or, unterminated, the rest of the text: never fails to match
# at a quote, so scanning stays linear whatever the body.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[{]+|[\]}]+")


def size(event: Any) -> int:
    """The body's length in bytes as sent (a base64 body decoded); never raises."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return len(base64.b64decode(body, validate=False))
        except (binascii.Error, ValueError):
            return len(body)
    # surrogatepass: a body with lone surrogates is measured here and refused by `text`
    return len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)


def text(event: Any) -> str:
    """The body as the text powertools will parse; InvalidBody when it is not UTF-8 (a body as API
    Gateway passes it may hold lone surrogates; a base64 one may decode to any bytes)."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise InvalidBody("the body is not text", "must be UTF-8 JSON text")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body.encode("ascii"))  # what powertools decodes, `validate=False` too
        except (binascii.Error, ValueError):  # ValueError: UnicodeEncodeError of a non-ASCII character
            raise InvalidBody("the body is not valid base64", "must be base64-encoded (isBase64Encoded)") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidBody("the body is not UTF-8 text", "must be UTF-8 text") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody("the body is not UTF-8 text",
                          f"must be UTF-8 text (byte {error.start} is not)") from None


def too_deep(document: str, limit: int = MAX_NESTING) -> bool:
    """Whether arrays and objects nest deeper than `limit` in JSON `document`, found without
    recursion; brackets inside strings do not count."""
    if document.count("[") + document.count("{") <= limit:
        return False  # not even that many brackets: the common case, no scan
    depth = 0
    for run in _BRACKETS.finditer(_STRING.sub("", document)):
        brackets = run.group()
        if brackets[0] in "[{":
            depth += len(brackets)
            if depth > limit:
                return True
        else:
            depth = max(0, depth - len(brackets))
    return False


def check(event: Any) -> None:
    """InvalidBody unless the body (if any) is UTF-8 text nested at most MAX_NESTING deep."""
    if too_deep(text(event)):
        raise _too_deep()


def parse(document: str) -> Any:
    """`json.loads` for powertools' `json_body`. Its JSONDecodeError stays (powertools answers it:
    400 "malformed JSON"); a ValueError otherwise is Python's limit on integer digits (4,300 by
    default): 400 naming the body as well, not a 500."""
    try:
        return json.loads(document)
    except json.JSONDecodeError:
        raise
    except RecursionError:  # not after `check`; kept for a caller that skipped it
        raise _too_deep() from None
    except ValueError:
        limit = sys.get_int_max_str_digits()
        raise InvalidBody("a number in the body has too many digits",
                          f"numbers may have at most {limit} digits") from None


def _too_deep() -> InvalidBody:
    return InvalidBody(f"the body is nested too deeply (at most {MAX_NESTING} levels)",
                       f"arrays and objects may nest at most {MAX_NESTING} levels deep")
