"""Every report is one `FILE:LINE:COL: error: MESSAGE` line, at the position an editor shows.

Line counting (a choice, kept in dsl_compiler/positions.py): a line ends at \\n, \\r\\n or a lone \\r,
as in editors, `grep -n` and Python's universal newlines. U+0085, U+2028 and U+2029, which YAML also
counts as line breaks, are ordinary characters within a line here, so they do not shift the lines
after them. Columns count characters from 1; a leading BOM takes none.
"""

from __future__ import annotations

import re

import pytest

from dsl_compiler import CompileError, compile_text

REPORT = re.compile(r"^[^\n]+:\d+:\d+: error: [^\n]+$")
HEAD = "flow: lines\nversion: 1\ninput:\n  days: {type: number, required: true}\nsteps:\n"
STEP = "  - id: a\n    type: approval\n    approvers: {role: x}\n    timeout: none\n"


def errors(text: str) -> list[str]:
    with pytest.raises(CompileError) as info:
        compile_text(text, "f.yaml")
    found = [str(e) for e in info.value.errors]
    assert all(REPORT.match(line) and len(line.splitlines()) == 1 for line in found), found
    return found


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separators_do_not_shift_lines(separator: str) -> None:
    text = HEAD.replace("version: 1\n", f"version: 1\ntitle: \"a{separator}b{separator}c\"\n") + STEP
    assert errors(text + '    when: days < "x"\n') == [
        "f.yaml:11:11: error: cannot compare number field 'days' with string \"x\""
    ]


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_carriage_returns_are_line_breaks(newline: str) -> None:
    text = (HEAD + STEP + '    when: days < "x"\n').replace("\n", newline)
    assert errors(text) == ["f.yaml:10:11: error: cannot compare number field 'days' with string \"x\""]


def test_a_leading_bom_is_not_a_column() -> None:
    assert errors("\ufeffflow: x\nversion: 1\nsteps: [{id: a, type: notify}]\n")[0] == (
        "f.yaml:1:7: error: 'x' is not a valid flow name (pattern ^[a-z][a-z0-9-]{1,62}$)"
    )


def test_values_with_line_breaks_are_echoed_on_one_line() -> None:
    assert errors('flow: "two\\nlines\\u2028three"\nversion: 1\nsteps: [{id: a, type: notify}]\n')[0] == (
        "f.yaml:1:7: error: 'two\\nlines\\u2028three' is not a valid flow name (pattern ^[a-z][a-z0-9-]{1,62}$)"
    )


def test_a_character_yaml_refuses_is_located_on_one_line() -> None:
    # PyYAML's own message adds a second line: `in "<unicode string>", position 33`.
    assert errors("flow: ok-flow\nversion: 1\ntitle: a\x07b\nsteps: []\n") == [
        "f.yaml:3:9: error: YAML: unacceptable character #x0007: special characters are not allowed"
    ]
