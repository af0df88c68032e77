"""Fuzz of loader + validator + condition parser: whatever the text, the compiler either compiles it to
strict JSON or reports CompileError lines of the documented format. Nothing else escapes."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dsl_compiler import CompileError, compile_text, validate_files
from tests.conftest import FLOWS

REPORT = re.compile(r"^[^\n]+:\d+:\d+: error: [^\n]+$")
TEMPLATE = """flow: fuzz
version: {version}
title: {title}
input:
  days: {{type: number, default: {default}}}
  tag: {{type: string, enum: [{enum}]}}
steps:
  - id: {step_id}
    type: approval
    when: {when}
    approvers: {{role: x}}
    timeout: {timeout}
    on_timeout: reject
  - id: act
    type: action
    function: Go
    input: {{a: {value}, b: $.days}}
"""
NASTY = [
    "²", "٣", "１", "9" * 4400, "0x" + "f" * 400, ".nan", ".inf", "-.inf", "1.0e+400", "2024-01-01",
    "2024-01-01T10:00:00Z", "!!binary aGk=", "!!timestamp 2024-01-01", "!!set {a}", "!!float 1", "!foo x",
    "!!python/object:os.system {}", "&a [*a]", "*nowhere", "|\n  days > 1", ">-\n  days >\n   1", '"a\\nb"',
    '"\\ud800"', "\u2028", "\u2029", "\x85", "\r", "\x07", "\ufeff", "(" * 200, "!" * 300 + "x", "[" * 300,
    " && ".join(["days > 1"] * 400), "9999999w", "1:30", "<<: {a: 1}", "=", "? [a]\n: b", "{a: 1, a: 2}",
    "'", '"', "#", "- x", ": x", "%TAG ! tag:x,2000:", "---", "...", "\t", "on", "yes", "null", "~",
]
fragment = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers().map(str),
    st.floats().map(repr),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map(" ".join),
)
SOURCES = [p.read_text(encoding="utf-8") for p in FLOWS]


def check(text: str) -> None:
    try:
        flow = compile_text(text, "fuzz.yaml")
    except CompileError as exc:
        lines = str(exc).split("\n")
        assert lines and all(REPORT.match(line) for line in lines), lines
        assert len(lines) == len(exc.errors)
        return
    for output in (flow.asl_json(), flow.manifest_json()):
        json.loads(output, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        output.encode("utf-8")


def check_file(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        for error in validate_files([str(path)]):
            assert REPORT.match(str(error)), str(error)


FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


VALID = {"version": "1", "title": "t", "default": "1", "enum": '"a"', "step_id": "s", "when": "days > 1",
         "timeout": "1d", "value": "1"}


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(VALID)), fragment, max_size=3))
@example({})
def test_template_slots(slots: dict[str, str]) -> None:
    text = TEMPLATE.format(**{**VALID, **slots})  # a valid flow with up to 3 values replaced
    check(text)
    check_file(text)


@FUZZ
@given(st.sampled_from(SOURCES), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), fragment), max_size=4))
def test_mutated_example_flows(source: str, edits: list[tuple[float, int, str]]) -> None:
    text = source
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
    check(text)
    check_file(text)
