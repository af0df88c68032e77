"""Each file in invalid/ lists, in `# expect: LINE:COL: MESSAGE` comments, every problem it must produce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsl_compiler import validate_files

INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.*)$")


def expected(path: Path) -> list[str]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            rows.append(f"{path}:{match.group(1)}:{match.group(2)}: error: {match.group(3)}")
    return rows


@pytest.mark.parametrize("flow", INVALID, ids=[p.stem for p in INVALID])
def test_reports_every_problem_with_its_location(flow: Path) -> None:
    want = expected(flow)
    assert want, f"{flow.name} has no '# expect:' lines"
    assert [str(e) for e in validate_files([str(flow)])] == want
