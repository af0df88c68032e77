"""The stack the integration tests run against: one suite, two targets (local/remote.py).

By default, the whole local stack: the flows compiled now, template.yaml deployed into
in-process moto, handlers run through the Lambda seam. `stack` (module scope: moto stays patched
only while a module that asks for it runs, so other tests' own `mock_aws` never nest inside it)
is then a started `local.stack.MotoStack`; its helpers: `start_approval`, `wait_for_open_step`,
`decide`, `drive`, `wait_for_end`, `history`, `human_step_entries`, `approval`, `audit`, `events`.

With APPROVALS_TARGET=localstack or aws, `stack` is a `local.remote.RemoteStack`: the stack named
by APPROVALS_STACK as deployed there, with flows/directory.yaml loaded into its table. Only the
modules marked `two_targets` run (they need no more of `stack` than `local.deployed.DeployedStack`
offers), and a test marked `flow_time(hours=...)` runs only when the target's APPROVALS_TIME_SCALE
makes that wait shorter than APPROVALS_MAX_WAIT; the header and the summary say what was left out.

Either way `gateway` puts the local gateway in front of the stack's ApiFunction and `api` is a
`local.client.Client` of that gateway (tests through the HTTP API), unless APPROVALS_API_URL
names the deployed API: then `api` goes through API Gateway with tokens from
APPROVALS_TOKEN_COMMAND, and tests that need the local gateway are deselected. `failing_action`
makes one sample action fail for a while; `target` says how fast flow time runs.

The fault modules (test_faults.py, test_fault_recovery.py, test_slow_answers.py) run on a stack of
their own with a fault plan: `plan` injects nothing but what a test scripts (`plan.crash_after`,
`plan.refuse`), `faulty_stack` is that stack (each module takes it as its `stack`), and
`nothing_left_scripted` fails a test whose scripted fault never fired.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from approvals import catalog
from local.client import Client
from local.deployed import DeployedStack
from local.faults import FaultPlan
from local.gateway import Gateway
from local.remote import RemoteStack, Target, TargetError
from local.stack import MotoStack

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Locally one hour of flow time is one second (remote.LOCAL_TIME_SCALE): the shortest human
# timeout in the examples (4h) becomes 4 s, ample for a test to decide in, while a 1h wait or a
# 1s retry takes 1 s.
try:
    TARGET = Target.from_env()
except TargetError as error:
    raise pytest.UsageError(str(error)) from None
_left_out: dict[str, int] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "two_targets: runs against a deployed stack too (APPROVALS_TARGET)")
    config.addinivalue_line("markers", "flow_time(hours): waits that long in flow time (a timeout)")


def pytest_report_header(config: pytest.Config) -> str:
    return f"integration target: {TARGET.describe()}, flow time x{TARGET.time_scale:g}"


def _why_left_out(item: pytest.Item) -> str | None:
    if TARGET.remote and item.get_closest_marker("two_targets") is None:
        return "needs the in-process local stack"
    if TARGET.api_url and "gateway" in getattr(item, "fixturenames", ()):
        return "needs the local gateway (its own tokens), not APPROVALS_API_URL"
    marker = item.get_closest_marker("flow_time")
    if marker is not None and TARGET.seconds(float(marker.kwargs["hours"])) > TARGET.max_wait:
        return f"waits longer than APPROVALS_MAX_WAIT={TARGET.max_wait:g}s at flow time x{TARGET.time_scale:g}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        why = _why_left_out(item) if item.path.is_relative_to(HERE) else None
        if why is None:
            kept.append(item)
        else:
            left.append(item)
            _left_out[why] = _left_out.get(why, 0) + 1
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for why, count in sorted(_left_out.items()):
        terminalreporter.write_line(f"integration target {TARGET.kind}: {count} tests deselected: {why}")


@pytest.fixture(scope="session")
def target() -> Target:
    return TARGET


@pytest.fixture(scope="session")
def compiled_statemachines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile the example flows with the CLI into a fresh folder, so the tests run what the
    compiler produces today, not what was last committed to statemachines/; with them the flows
    written for tests (tests/integration/flows/), which the local stack deploys beside the
    template's machines."""
    out = tmp_path_factory.mktemp("statemachines")
    flows = sorted(str(p) for p in [*(ROOT / "flows").glob("*.yaml"), *(HERE / "flows").glob("*.yaml")]
                   if p.name != "directory.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "dsl_compiler", "compile", *flows, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, f"compiling the flows failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[DeployedStack]:
    if TARGET.remote:
        with RemoteStack.for_target(TARGET) as remote:
            assert not remote.deployed.skipped, f"{TARGET.describe()}: {remote.deployed.skipped} (deploy again)"
            remote.load_directory(ROOT / "flows" / "directory.yaml")
            yield remote
        return
    compiled: Path = request.getfixturevalue("compiled_statemachines")
    with MotoStack(
        time_scale=TARGET.time_scale, statemachines_dir=compiled, parameters={"LogLevel": "WARNING"},
        function_env={catalog.CATALOG_ENV: str(compiled)},  # the handlers know the test flows too
    ) as local:
        assert not local.deployment or not local.deployment.skipped, local.deployment.skipped
        yield local


@pytest.fixture(scope="module")
def plan() -> FaultPlan:
    """The fault plan of a module on `faulty_stack`: no rates, only what its tests script."""
    return FaultPlan(seed=2026)


@pytest.fixture(scope="module")
def faulty_stack(compiled_statemachines: Path, plan: FaultPlan) -> Iterator[MotoStack]:
    """The whole local stack with `plan` installed, for the fault modules (one per module). Flow time
    runs at real time here: at the suite's x3600 an action's 30 s timeout is 1 s, which the handlers
    (sharing one interpreter in this process) exceed while others back off from throttling. No test on it
    waits on a timeout or a Wait state."""
    with MotoStack(
        time_scale=1.0, statemachines_dir=compiled_statemachines, parameters={"LogLevel": "WARNING"},
        function_env={catalog.CATALOG_ENV: str(compiled_statemachines)}, faults=plan,
    ) as local:
        assert local.deployment is not None and not local.deployment.skipped, local.deployment
        yield local


@pytest.fixture
def nothing_left_scripted(plan: FaultPlan) -> Iterator[None]:
    """After the test: every fault it scripted fired (`pytestmark = pytest.mark.usefixtures(...)`)."""
    yield
    left = plan.pending()
    plan.clear()
    assert left == 0, "a scripted fault never fired: the test did not cross the boundary it names"


@pytest.fixture(scope="module")
def gateway(stack: DeployedStack) -> Iterator[Gateway]:
    """The local gateway on a free port of 127.0.0.1, in front of this module's stack."""
    with Gateway(stack, port=0, quiet=True) as running:
        yield running


@pytest.fixture(scope="module")
def api(request: pytest.FixtureRequest) -> Client:
    if TARGET.api_url:  # API Gateway and its authorizer, tokens from the identity provider
        return Client(TARGET.api_url, tokens=TARGET.token, timeout=60)
    gateway: Gateway = request.getfixturevalue("gateway")
    return Client(gateway.url)


@pytest.fixture(scope="module")
def failing_action(stack: DeployedStack) -> Callable[[str], AbstractContextManager[None]]:
    """`with failing_action("NotifyVendor"): ...`: that sample action fails while inside, through
    its FAIL_ACTIONS variable as the template sets it (setup of the stack, not something the API does).
    Its Lambda function is the template's alone, so other functions' runs are untouched."""

    @contextmanager
    def failing(function: str) -> Iterator[None]:
        lam = stack.client("lambda")
        name = stack.resource(function)
        variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        # On AWS a configuration change takes a moment to reach new invocations: wait for it.
        updated = lam.get_waiter("function_updated_v2")
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {**variables, "FAIL_ACTIONS": function}})
        updated.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        try:
            yield
        finally:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
            updated.wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    return failing
