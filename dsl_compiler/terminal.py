"""Output for people at a terminal: colour and a progress bar, only when the stream is a terminal
(and NO_COLOR is not set), so that pipes, CI logs and tests get the plain text the contract fixes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")
_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
BAR_WIDTH = 24


def is_terminal(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def paint(text: str, colour: str, stream: TextIO) -> str:
    return f"\033[{_CODES[colour]}m{text}\033[0m" if is_terminal(stream) else text


def error_line(location: str, message: str, stream: TextIO) -> str:
    """`FILE:LINE:COL: error: MESSAGE`, with the location bold and `error` red on a terminal."""
    return f"{paint(location, 'bold', stream)}: {paint('error', 'red', stream)}: {message}"


def progress(items: Sequence[T], label: str, stream: TextIO) -> Iterator[T]:
    """Yield `items`, drawing `[####....] 3/5 label` on a terminal (one line, redrawn); silent elsewhere."""
    shown = is_terminal(stream) and len(items) > 1
    for done, item in enumerate(items, start=1):
        yield item
        if shown:
            filled = BAR_WIDTH * done // len(items)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            stream.write(f"\r[{paint(bar, 'green', stream)}] {done}/{len(items)} {label}")
            stream.flush()
    if shown:
        stream.write("\n")
