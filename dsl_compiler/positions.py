"""Line and column of a character of a flow file, as an editor shows them.

PyYAML's marks count U+0085, U+2028 and U+2029 as line breaks; editors, grep -n and Python's
universal newlines do not. Every location is therefore computed here from the mark's character
index: lines end at \\n, \\r\\n or a lone \\r; columns count characters from 1; a leading BOM is not
a column.
"""

from __future__ import annotations

import bisect
import re

_BREAK = re.compile(r"\r\n|\r|\n")
_SPACE = frozenset(" \t\r\n\x85\u2028\u2029")


class Source:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        self.bom = text.startswith("\ufeff")

    def line_col(self, index: int) -> tuple[int, int]:
        """1-based line and column of the character at `index` (0-based)."""
        index = max(0, min(index, len(self.text)))
        line = bisect.bisect_right(self.starts, index)
        col = index - self.starts[line - 1] + 1
        if line == 1 and self.bom and col > 1:
            col -= 1
        return line, col

    def scalar_index(self, start: int, end: int, style: str | None, value: str, offset: int) -> int:
        """Index in the file of character `offset` of a scalar's `value` (or just past its last
        character when `offset` is its length), the scalar's text spanning `start:end`.

        Folding, block headers, indentation and escapes make `value` differ from its source: the
        value's characters are matched in order against the source, a folded line break matching
        any white space; should that fail, the scalar's first character is the answer.
        """
        text = self.text
        body = start + 1 if style in ('"', "'") else start
        if style in ("|", ">"):  # the content starts on the line after the header
            found = _BREAK.search(text, start, end)
            body = found.end() if found else end
        if text[body : body + len(value)] == value:  # a scalar on one line, as written
            return body + offset
        j = body
        for i, char in enumerate(value[: offset + 1]):
            while j < end and not (text[j] == char or (char in " \n" and text[j] in _SPACE)):
                j += 1
            if j >= end:
                return body if i < offset else j
            if i == offset:
                return j
            j += 1
        return j
