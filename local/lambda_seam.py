"""Run Lambda handlers in-process inside moto, offline and without Docker (docs/local-aws.md).

moto's `LambdaFunction._invoke_lambda(self, event)` normally starts a container and returns
`(payload_json_str, errored, logs)`. We replace it: import the module named by the function's
`Handler`, call the handler with the event and a context object, and turn an exception into
Lambda's error payload, whose `errorType` (the class name) Step Functions reports as the error
name, so `Catch`/`Retry` behave as on AWS. This is a private method of moto: moto is pinned.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction

from . import faults

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"

# os.environ is process-wide while Parallel/Map states run tasks in threads: one invocation at
# a time sees its function's variables. Re-entrant, in case a handler ends up invoking another.
_ENV_LOCK = threading.RLock()
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


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


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
    with _ENV_LOCK, _environment(_function_env(self)), faults.in_function(self.function_name):
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


def _serialize_interpreter_clients() -> None:
    """The ASL interpreter makes a boto3 client for every Lambda Task on its own thread, and
    botocore reads proxy settings by iterating os.environ, which invocations on other threads
    change: a variable removed mid-iteration fails the Task (States.Runtime, KeyError). Making those
    clients under the environment lock keeps them apart. Idempotent."""
    module: Any = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils")
    original = module.boto_client_for
    if getattr(original, "_under_env_lock", False):
        return

    def locked(*args: Any, **kwargs: Any) -> Any:
        with _ENV_LOCK:
            client = original(*args, **kwargs)
        faults.hook_interpreter_client(client)  # Lambda's service errors, when faults are on
        return client

    locked._under_env_lock = True  # type: ignore[attr-defined]
    module.boto_client_for = locked


def install(extra_env: Mapping[str, str] | None = None) -> None:
    """Patch moto (idempotent). `extra_env` is applied to every function on top of its own
    variables, e.g. `AWS_ENDPOINT_URL` in server mode."""
    global _original
    _serialize_interpreter_clients()
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
    _extra_env.clear()


__all__ = ["LambdaContext", "install", "invoke_in_process", "uninstall"]
