"""The Lambda seam's environment per thread (ThreadEnviron) and invocations that overlap as on AWS
when asked to (APPROVALS_LOCAL_OVERLAP=1), one at a time otherwise."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from local import lambda_seam

BARRIER = threading.Barrier(2, timeout=2)


def meeting_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Waits for the other invocation: only invocations that overlap both get past."""
    BARRIER.wait()
    return {"who": os.environ["WHO"], "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}


def function(name: str, who: str) -> Any:
    return SimpleNamespace(
        function_name=name, memory_size=128, function_arn=f"arn:aws:lambda:us-east-1:1:function:{name}", timeout=10,
        handler=f"{__name__}.meeting_handler", version="$LATEST", region="us-east-1", environment_vars={"WHO": who},
        logs_backend=None, logs_group_name="", save_logs=lambda text: None,
    )


@pytest.fixture
def seam(request: pytest.FixtureRequest) -> Iterator[None]:
    lambda_seam.install(overlap=request.param)
    BARRIER.reset()
    try:
        yield
    finally:
        lambda_seam.uninstall()


def invoke_both() -> list[tuple[dict[str, Any], bool]]:
    fns = [function("fn-a", "a"), function("fn-b", "b")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda fn: lambda_seam.invoke_in_process(fn, {}), fns))
    return [(json.loads(payload), errored) for payload, errored, _ in results]


@pytest.mark.parametrize("seam", [True], indirect=True)
def test_overlapping_invocations_each_see_their_own_functions_environment(seam: None) -> None:
    assert invoke_both() == [({"who": "a", "name": "fn-a"}, False), ({"who": "b", "name": "fn-b"}, False)]
    assert "WHO" not in os.environ  # the process's variables never had it


@pytest.mark.parametrize("seam", [False], indirect=True)
def test_by_default_invocations_take_turns(seam: None) -> None:
    (first, first_failed), (second, second_failed) = invoke_both()
    # One waited at the barrier for the other, which could not start until it was done.
    assert first_failed and second_failed
    assert {first["errorType"], second["errorType"]} == {"BrokenBarrierError"}


def test_a_layer_is_the_threads_own() -> None:
    environ = lambda_seam.ThreadEnviron({"KEPT": "1", "GONE": "2"})
    inside = threading.Barrier(2, timeout=2)
    seen: dict[str, Any] = {}

    def run(name: str) -> None:
        with environ.layered({"WHO": name}):
            inside.wait()  # both layers at once
            environ["WRITTEN"] = name
            del environ["GONE"]
            seen[name] = (environ["WHO"], environ["WRITTEN"], "GONE" in environ, sorted(environ))
            with environ.layered({"WHO": "inner"}):
                seen[name + " inner"] = (environ["WHO"], environ["WRITTEN"])

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"] == ("a", "a", False, ["KEPT", "WHO", "WRITTEN"])
    assert seen["b"] == ("b", "b", False, ["KEPT", "WHO", "WRITTEN"])
    assert seen["a inner"] == ("inner", "a")
    assert dict(environ) == {"KEPT": "1", "GONE": "2"}  # the process's, untouched by the layers
    environ["NEW"] = "x"  # no layer: the process's
    assert environ.base["NEW"] == "x"
