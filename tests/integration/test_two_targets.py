"""The second target is real: the `two_targets` modules run as a separate pytest against a stack
deployed in another process, reached only through endpoints, as they would reach LocalStack.

`python -m local.serve` deploys template.yaml into a moto server on a port of its own; the inner
run is told APPROVALS_TARGET=localstack with LOCALSTACK_HOST at that port, so localstack-client
makes its endpoints and `RemoteStack` finds the stack through CloudFormation. What the inner run
did is then read back from the served stack's table: the approvals are there, not in some
in-process moto. APPROVALS_MAX_WAIT=10 leaves out the tests that wait 48 h or 72 h of flow time
(48 s and 72 s here); test_expected_runs.py runs them locally.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.remote import RemoteStack, Target

ROOT = Path(__file__).resolve().parents[2]
RUNS = "tests/integration/test_expected_runs.py::"
# test_api whole, and the expected runs that reach furthest behind the API: a sample function's
# configuration changed through Lambda, a run with a 4 h timeout (4 s), and one with a 72 h
# timeout that APPROVALS_MAX_WAIT leaves out. Every run of the two modules on this target takes
# about 2 minutes, too long to repeat in `make test` (README, "Two targets", runs them all).
SUITE = ["tests/integration/test_api.py", *(RUNS + name for name in (
    "test_purchase_order_vendor_notice_fails_so_the_po_is_cancelled",
    "test_access_grant_fails_three_times",
    "test_contract_committee_member_transfers_and_the_trail_shows_both",
    "test_access_security_does_not_answer_so_rejected",
    "test_slow_runs_wait_for_the_right_people",
))]
STACK = "approvals-local"  # what local.serve names its stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    # Nothing of this process's AWS setup leaks in: localstack-client would take AWS_ENDPOINT_URL.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "APPROVALS_", "MOTO_", "LOCALSTACK_"))}
    return {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", **extra}


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """`local.serve` in its own process; the environment that makes it the suite's target."""
    gateway_port, moto_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.serve", "--port", str(gateway_port), "--moto-port", str(moto_port),
         "--time-scale", "3600", "--no-compile"],
        cwd=ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"local.serve did not come up:\n{process.communicate()[0][-3000:]}")
            time.sleep(0.5)
        yield _clean_env(APPROVALS_TARGET="localstack", LOCALSTACK_HOST=f"127.0.0.1:{moto_port}",
                         APPROVALS_STACK=STACK, APPROVALS_TIME_SCALE="3600", APPROVALS_MAX_WAIT="10",
                         SERVED_API=f"http://127.0.0.1:{gateway_port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run(env: dict[str, str], *args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_two_target_modules_pass_against_a_stack_in_another_process(served: dict[str, str]) -> None:
    run = _run(served, "-m", "pytest", *SUITE, "-p", "no:cacheprovider", "-rA")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    summary = re.search(r"\n(\d+) passed, (\d+) deselected", run.stdout)
    assert summary, run.stdout[-3000:]
    passed = {line.split("::")[-1] for line in run.stdout.splitlines() if line.startswith("PASSED ")}
    assert int(summary[1]) == len(passed) == 11 + 4  # test_api's 11 tests, 4 of the 5 runs
    # 4 h of flow time is 4 s there: within the 10 s, so it runs; 72 h is left out, and said why.
    assert "test_access_security_does_not_answer_so_rejected" in passed
    assert int(summary[2]) == 1 and "1 tests deselected: waits longer than APPROVALS_MAX_WAIT=10s" in run.stdout

    # What the inner run did is in the served stack's table, and only there: this process
    # started no approval. Finished approvals are archived, their items kept until retain_hot.
    with RemoteStack.for_target(Target.from_env(served)) as remote:
        items = remote.client("dynamodb").scan(
            TableName=remote.deployed.table_name, FilterExpression="begins_with(pk, :t) AND sk = :a",
            ExpressionAttributeValues={":t": {"S": "T#acme#A#"}, ":a": {"S": "A"}})["Items"]
    outcomes = {(i["flow"]["S"], i["status"]["S"]) for i in items}
    assert {("access-request", "failed"), ("access-request", "rejected"), ("purchase-order", "failed"),
            ("contract-review", "approved"), ("leave-request", "approved")} <= outcomes, outcomes


def test_a_missing_stack_is_named_with_what_to_do(served: dict[str, str]) -> None:
    run = _run({**served, "APPROVALS_STACK": "no-such-stack"}, "-m", "local.remote", "describe", timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("error: cannot read stack no-such-stack:")
    assert "Deploy it first (docs/deploy.md), or name it with APPROVALS_STACK" in run.stderr


def test_a_bad_directory_is_refused_and_the_stored_one_kept(served: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "people.yaml"
    bad.write_text("tenant: acme\nusers:\n  - {id: ann, manager: nobody}\n", encoding="utf-8")
    run = _run(served, "-m", "local.remote", "load-directory", str(bad), timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.splitlines() == [f"error: {bad}: the directory is not valid",
                                       "  users[0].manager: user 'nobody' is not in the directory"]
    with RemoteStack.for_target(Target.from_env(served)) as remote:
        assert remote.store.get_directory("acme").exists("bob")  # still the example directory
    good = _run(served, "-m", "local.remote", "load-directory", "flows/directory.yaml", timeout=60)
    assert good.returncode == 0 and good.stdout.startswith("flows/directory.yaml: loaded into ")


# What a Cognito admin-initiate-auth would be on AWS: here the served gateway's own token endpoint.
TOKEN_COMMAND = """import json, os, sys, urllib.request as u
body = json.dumps({"user": os.environ["APPROVALS_USER"], "tenant": os.environ["APPROVALS_TENANT"]}).encode()
print(json.load(u.urlopen(u.Request(sys.argv[1] + "/_local/token", data=body, method="POST")))["token"])"""


def test_the_api_module_passes_through_a_given_api_url_with_tokens_from_a_command(served: dict[str, str]) -> None:
    api = served["SERVED_API"]
    env = {**served, "APPROVALS_API_URL": api,
           "APPROVALS_TOKEN_COMMAND": f"{shlex.quote(sys.executable)} -c {shlex.quote(TOKEN_COMMAND)} {api}"}
    run = _run(env, "-m", "pytest", "tests/integration/test_api.py", "-p", "no:cacheprovider", "-rA")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert re.search(r"\n10 passed, 1 deselected", run.stdout), run.stdout[-3000:]
    assert "1 tests deselected: needs the local gateway (its own tokens), not APPROVALS_API_URL" in run.stdout
    bad = _run({**env, "APPROVALS_TOKEN_COMMAND": "exit 3"}, "-m", "pytest", "tests/integration/test_api.py",
               "-p", "no:cacheprovider", "-x", "-k", "preview")
    assert bad.returncode == 1 and "APPROVALS_TOKEN_COMMAND for ann@acme exited 3: no token printed" in bad.stdout
