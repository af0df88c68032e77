"""The whole local stack for integration tests: the flows compiled now, template.yaml deployed
into in-process moto, handlers run through the Lambda seam.

`stack` (module scope: moto stays patched only while a module that asks for it runs, so other
tests' own `mock_aws` never nest inside it) is a started `local.stack.LocalStack`; its helpers:
`start_approval`, `wait_for_open_step`, `decide`, `drive`, `wait_for_end`, `history`,
`human_step_entries`, `approval`, `audit`, `events`. `gateway` puts the local gateway in front of
it and `api` is a `local.client.Client` of that gateway (tests through the HTTP API);
`failing_action` makes one sample action fail for a while.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from local.client import Client
from local.gateway import Gateway
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]

# One hour of flow time is one second here: the shortest human timeout in the examples (4h)
# becomes 4 s, ample for a test to decide in, while a 1h wait or a 1s retry takes 1 s.
TIME_SCALE = 3600


@pytest.fixture(scope="session")
def compiled_statemachines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile the example flows with the CLI into a fresh folder, so the tests run what the
    compiler produces today, not what was last committed to statemachines/."""
    out = tmp_path_factory.mktemp("statemachines")
    flows = sorted(str(p) for p in (ROOT / "flows").glob("*.yaml") if p.name != "directory.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "dsl_compiler", "compile", *flows, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"compiling the flows failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def stack(compiled_statemachines: Path) -> Iterator[LocalStack]:
    with LocalStack(
        time_scale=TIME_SCALE, statemachines_dir=compiled_statemachines, parameters={"LogLevel": "WARNING"}
    ) as local:
        assert not local.deployment or not local.deployment.skipped, local.deployment.skipped
        yield local


@pytest.fixture(scope="module")
def gateway(stack: LocalStack) -> Iterator[Gateway]:
    """The local gateway on a free port of 127.0.0.1, in front of this module's stack."""
    with Gateway(stack, port=0, quiet=True) as running:
        yield running


@pytest.fixture(scope="module")
def api(gateway: Gateway) -> Client:
    return Client(gateway.url)


@pytest.fixture(scope="module")
def failing_action(stack: LocalStack) -> Callable[[str], AbstractContextManager[None]]:
    """`with failing_action("NotifyVendor"): ...`: that sample action fails while inside, through
    its FAIL_ACTIONS variable as the template sets it (setup of the stack, not something the API does).
    Its Lambda function is the template's alone, so other functions' runs are untouched."""

    @contextmanager
    def failing(function: str) -> Iterator[None]:
        assert stack.deployment is not None
        lam = stack.client("lambda")
        name = stack.deployment.resources[function]
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {**variables, "FAIL_ACTIONS": function}})
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})

    return failing
