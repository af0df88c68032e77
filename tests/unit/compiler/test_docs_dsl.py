"""docs/dsl.md stays honest: every ```yaml flow in it compiles, every invalid example fails exactly as it says.

A block that starts with `flow:` must compile with no error; a block with `# expect: LINE:COL: MESSAGE`
lines (the format of tests/unit/compiler/invalid/, positions counted in the block as a file) must
produce exactly those errors; a block that starts with `tenant:` must load as a directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from approvals.domain.directory import Directory
from dsl_compiler import compile_text, validate_files
from tests.conftest import ROOT
from tests.unit.compiler.test_invalid_flows import EXPECT, expected

DOC = ROOT / "docs" / "dsl.md"
FENCE = re.compile(r"^```(\S*)[ \t]*$")


@dataclass(frozen=True)
class Block:
    line: int  # line of the block's first line in the doc
    lang: str
    text: str

    @property
    def name(self) -> str:
        """The test id: the example's flow name, else where it is in the doc."""
        flow = re.search(r"^flow: *(\S+)", self.text, re.MULTILINE)
        return flow.group(1) if flow else f"line-{self.line}"


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    lang: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if lang is None and match:
            lang, start, body = match.group(1), number + 1, []
        elif lang is not None and line.rstrip() == "```":
            found.append(Block(start, lang, "".join(f"{row}\n" for row in body)))
            lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"{DOC.name}: a fence opened at line {start - 1} is never closed"
    return found


BLOCKS = blocks(DOC.read_text(encoding="utf-8"))
YAML = [b for b in BLOCKS if b.lang == "yaml"]
INVALID = [b for b in YAML if any(EXPECT.match(row) for row in b.text.splitlines())]
VALID = [b for b in YAML if b.text.startswith("flow:")]
DIRECTORIES = [b for b in YAML if b.text.startswith("tenant:")]


@pytest.mark.parametrize("block", VALID, ids=[b.name for b in VALID])
def test_flow_example_compiles(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block.text, encoding="utf-8")
    assert [str(e) for e in validate_files([str(path)])] == []
    compile_text(block.text, str(path))  # and it goes through IR, ASL and manifest too


@pytest.mark.parametrize("block", INVALID, ids=[b.name for b in INVALID])
def test_invalid_example_reports_exactly_its_expected_errors(block: Block, tmp_path: Path) -> None:
    assert block.text.startswith("# invalid\n"), "an invalid example starts with a '# invalid' line"
    path = tmp_path / "example.yaml"
    path.write_text(block.text, encoding="utf-8")
    assert [str(e) for e in validate_files([str(path)])] == expected(path)


@pytest.mark.parametrize("block", DIRECTORIES, ids=[b.name for b in DIRECTORIES])
def test_directory_example_loads(block: Block) -> None:
    directory = Directory.from_dict(yaml.safe_load(block.text))
    assert directory.users
    for user in directory.users.values():
        assert user.manager is None or user.manager in directory.users, f"{user.id}'s manager is unknown"


def test_every_yaml_block_is_a_checked_kind() -> None:
    """A flow that does not start with `flow:` (nor is an invalid example) would silently go unchecked."""
    checked = {b.line for b in VALID + INVALID + DIRECTORIES}
    unchecked = [b.line for b in YAML if b.line not in checked and re.search(r"^flow:", b.text, re.MULTILINE)]
    assert unchecked == [], f"yaml blocks with a flow that is not checked, at lines {unchecked} of {DOC.name}"
    marked = [b.line for b in YAML if b.text.startswith("# invalid") and b not in INVALID]
    assert marked == [], f"'# invalid' blocks without '# expect:' lines at lines {marked} of {DOC.name}"


def test_the_doc_has_enough_examples() -> None:
    assert len(VALID) >= 4, f"{len(VALID)} complete flows in {DOC.name}, want at least 4"
    assert len(INVALID) >= 2, f"{len(INVALID)} invalid examples in {DOC.name}, want at least 2"
    assert len({b.name for b in YAML}) == len(YAML), "two examples share a test id"
