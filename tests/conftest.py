from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOWS = sorted(p for p in (ROOT / "flows").glob("*.yaml") if p.name != "directory.yaml")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
