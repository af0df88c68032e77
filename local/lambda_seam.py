"""Run Lambda handlers in-process inside moto, offline and without Docker (docs/local-aws.md).

moto's `LambdaFunction._invoke_lambda(self, event)` normally starts a container and returns
`(payload_json_str, errored, logs)`. We replace it: import the module named by the function's
`Handler`, call the handler with the event and a context object, and turn an exception into
Lambda's error payload, whose `errorType` (the class name) Step Functions reports as the error
name, so `Catch`/`Retry` behave as on AWS. This is a private method of moto: moto is pinned.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction

from . import faults

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"

# Whether invocations on several threads run at the same time, as on AWS (APPROVALS_LOCAL_OVERLAP=1),
# or one at a time (the default). Both are correct; overlapping is slow here: moto serializes its
# answers in pure Python under one GIL, so 20 decisions at once on a step of 1,000 approvers
# (tests/integration/test_wide_steps.py) took several times as long as in turn. `bench.soak` overlaps;
# the contention bench decides from 100 threads at once either way (it calls the use case, not the seam).
OVERLAP_ENV = "APPROVALS_LOCAL_OVERLAP"
_serial = threading.RLock()  # re-entrant: a handler may end up invoking another
_overlap = False
_original: Any = None
_extra_env: dict[str, str] = {}


@dataclass
class LambdaContext:
    """What handlers (and powertools' inject_lambda_context) read from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class ThreadEnviron(MutableMapping[str, str]):
    """`os.environ` as each thread sees it: the process's variables under a layer of the thread's
    own, its function's while an invocation runs on it. On AWS each invocation has a sandbox of its
    own; here they share a process, and with one environment for all they could only run one at a
    time. With a layer per thread, invocations on several threads (the gateway's requests, Parallel
    branches, Map iterations) overlap as on AWS, each seeing its own function's variables. A write
    goes to the layer of the thread that has one (it is gone with the invocation), else to the
    process's. A removed variable is a `None` in the layer."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _layer(self) -> dict[str, str | None] | None:
        layer: dict[str, str | None] | None = getattr(self._local, "layer", None)
        return layer

    @contextmanager
    def layered(self, values: Mapping[str, str]) -> Iterator[None]:
        """`values` over the process's variables on this thread, for the block (nested: over the outer)."""
        outer = self._layer()
        self._local.layer = {**(outer or {}), **values}
        try:
            yield
        finally:
            self._local.layer = outer

    def __getitem__(self, key: str) -> str:
        layer = self._layer()
        if layer is not None and key in layer:
            value = layer[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        layer = self._layer()
        if layer is None:
            self.base[key] = value
        else:
            layer[key] = str(value)

    def __delitem__(self, key: str) -> None:
        layer = self._layer()
        if layer is None:
            del self.base[key]
            return
        if key not in self:
            raise KeyError(key)
        layer[key] = None

    def __iter__(self) -> Iterator[str]:
        layer = self._layer() or {}
        keys = [k for k in list(self.base) if k not in layer] + [k for k, v in layer.items() if v is not None]
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:  # as os.environ.copy()
        return dict(self)


def _environment(values: Mapping[str, str]) -> Any:
    environ = os.environ
    assert isinstance(environ, ThreadEnviron), "lambda_seam.install() first"
    return environ.layered(values)


def _turn() -> Any:
    return contextlib.nullcontext() if _overlap else _serial


def _resolve(handler: str) -> Any:
    module_name, _, attr = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _function_env(fn: LambdaFunction) -> dict[str, str]:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "_HANDLER": str(fn.handler),
    }
    env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(_extra_env)
    return env


def invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for `LambdaFunction._invoke_lambda`."""
    if isinstance(event, str | bytes):
        event = json.loads(event or "{}")
    context = LambdaContext(
        function_name=self.function_name,
        memory_limit_in_mb=int(self.memory_size),
        invoked_function_arn=self.function_arn,
        timeout_seconds=float(self.timeout),
        log_group_name=f"/aws/lambda/{self.function_name}",
    )
    errored = False
    with _turn(), _environment(_function_env(self)), faults.in_function(self.function_name):
        try:
            result = _resolve(str(self.handler))(event if event is not None else {}, context)
            payload = json.dumps(result, default=str)
            logs = ""
        except faults.ProcessDied as died:  # injected (local/faults.py): what Step Functions reports of a crash
            errored = True
            payload = json.dumps({"errorType": "Lambda.Unknown", "errorMessage": f"Runtime exited: {died}"})
            logs = "".join(traceback.format_exception(died))
        except Exception as error:  # every failure becomes Lambda's error payload
            errored = True
            payload = json.dumps({
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            })
            logs = "".join(traceback.format_exception(error))
    if logs:
        _save_logs(self, logs)
    return payload, errored, logs


def _save_logs(fn: LambdaFunction, text: str) -> None:
    # Keep failures findable in CloudWatch Logs as on AWS; a logs-backend hiccup is not the handler's error.
    try:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.save_logs(text)
    except Exception:
        print(text, file=sys.stderr)


def _hook_interpreter_clients() -> None:
    """The ASL interpreter makes a boto3 client for every Lambda Task on its own thread: Lambda's
    service errors are injected there when faults are on. (botocore iterates os.environ while making
    it; the process's variables no longer change under it while invocations run: ThreadEnviron.)
    Idempotent."""
    module: Any = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils")
    original = module.boto_client_for
    if getattr(original, "_hooked", False):
        return

    def hooked(*args: Any, **kwargs: Any) -> Any:
        client = original(*args, **kwargs)
        faults.hook_interpreter_client(client)
        return client

    hooked._hooked = True  # type: ignore[attr-defined]
    module.boto_client_for = hooked


def install(extra_env: Mapping[str, str] | None = None, overlap: bool | None = None) -> None:
    """Patch moto (idempotent). `extra_env` is applied to every function on top of its own
    variables, e.g. `AWS_ENDPOINT_URL` in server mode; `overlap` (default: APPROVALS_LOCAL_OVERLAP=1)
    lets invocations on several threads run at the same time."""
    global _original, _overlap
    _overlap = os.environ.get(OVERLAP_ENV) == "1" if overlap is None else overlap
    _hook_interpreter_clients()
    if not isinstance(os.environ, ThreadEnviron):
        os.environ = ThreadEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003 (a view, not a clear)
    _extra_env.clear()
    _extra_env.update(extra_env or {})
    if _original is None:
        _original = LambdaFunction._invoke_lambda
        LambdaFunction._invoke_lambda = invoke_in_process  # type: ignore[method-assign]


def uninstall() -> None:
    global _original
    if _original is not None:
        LambdaFunction._invoke_lambda = _original  # type: ignore[method-assign]
        _original = None
    if isinstance(os.environ, ThreadEnviron):
        os.environ = os.environ.base  # type: ignore[assignment]  # noqa: B003
    _extra_env.clear()


__all__ = ["OVERLAP_ENV", "LambdaContext", "ThreadEnviron", "install", "invoke_in_process", "uninstall"]
