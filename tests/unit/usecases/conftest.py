"""A memory runtime (tests/fakes.py) at T0 with the example tenant's directory (flows/directory.yaml)
stored through the store, as an operator would load it. The catalog is the committed compiled flows
(statemachines/*.manifest.json, which approvals.catalog reads by default)."""

from __future__ import annotations

import pytest

from tests.fakes import MemoryRuntime, memory_runtime

from .machine import DIRECTORY, T0, TENANT


@pytest.fixture
def rt() -> MemoryRuntime:
    runtime = memory_runtime(now=T0)
    runtime.store.put_directory(TENANT, DIRECTORY)
    return runtime
