"""Durations of the DSL: `30s`, `15m`, `48h`, `2d`, `1w`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^([1-9][0-9]{0,6})([smhdw])$")


def parse_duration(text: str) -> int | None:
    """Seconds, or None when `text` is not a duration."""
    match = _PATTERN.match(text)
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
