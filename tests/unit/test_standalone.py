"""The repository stands on its own: no tracked file points outside it.

A clone has no sibling `shared` folder beside it, and its readers cannot tell whose machines a
phrase about "the machines" of its author means. Every file `git ls-files` lists is searched
(case-insensitive; the phrase also when a line break or a comment marker splits it), except this
file, which has to name what it looks for. Each hit is reported as FILE:LINE.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()
FORBIDDEN = {
    "a path outside the repository": re.compile(r"\.\./shared", re.IGNORECASE),
    "a phrase about the author's machines": re.compile(r"these\s+(?:[#*/]+\s*)?machines", re.IGNORECASE),
}


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed, so the tracked files cannot be listed")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False)
    assert listed.returncode == 0, f"git ls-files failed: {listed.stderr.decode(errors='replace').strip()}"
    return [name for name in listed.stdout.decode("utf-8", errors="surrogateescape").split("\0") if name]


def content(path: Path) -> str | None:
    """A file's text (a symbolic link's target, as git stores it); None if it is not in the work tree."""
    if path.is_symlink():
        return os.readlink(path)
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:  # deleted in the work tree, not yet in the index
        return None


def hits(name: str, text: str) -> list[str]:
    """`FILE:LINE: what: match` for each forbidden match in `text`, in line order."""
    found: list[tuple[int, str]] = []
    for what, pattern in FORBIDDEN.items():
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, f"{name}:{line}: {what}: {match.group(0)!r}"))
    return [hit for _, hit in sorted(found)]


OUTSIDE = "../" + "shared"  # in two parts, so that this file does not name it itself


def test_hits_are_found_with_their_line() -> None:
    text = f"one\nsee {OUTSIDE}/spec/api.md\nnot on These\n# machines either\n"
    assert hits("x.md", text) == [
        f"x.md:2: a path outside the repository: {OUTSIDE!r}",
        "x.md:3: a phrase about the author's machines: 'These\\n# machines'",
    ]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    names = tracked_files()
    assert names, "git ls-files listed nothing"
    found: list[str] = []
    for name in names:
        if name == THIS_FILE:
            continue
        text = content(ROOT / name)
        if text is not None:
            found += hits(name, text)
    assert not found, "the repository must stand on its own; found:\n" + "\n".join(found)
