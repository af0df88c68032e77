"""`MotoStack`: template.yaml running in moto, with helpers to drive approvals from tests.

In-process (default): `mock_aws` with Step Functions execution on; every boto3 call in this
process, the handlers' included, lands in moto. Server mode: a `ThreadedMotoServer` on
127.0.0.1 for clients outside the process (`make demo` when flask is installed, later
`make serve`; it needs moto's `server` extra: flask, flask-cors); the handlers still run in this
process (through the seam) and reach the server via `AWS_ENDPOINT_URL`.

    with MotoStack(time_scale=3600) as stack:
        approval_id = stack.start_approval("leave-request", "ann", {"days": 1, ...})
        stack.wait_for_open_step(approval_id, "manager")
        stack.decide(approval_id, "manager", "bob", "approve")
        status, output = stack.wait_for_end(approval_id)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from . import eventbridge, execution_events, lambda_seam, moto_fixes, moto_limits, moto_tracking, moto_transactions
from . import faults as _faults
from .deploy import ROOT, Deployment, deploy
from .deployed import DeployedStack

REGION = "us-east-1"
_SFN_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

from approvals.adapters import aws as aws_clients  # noqa: E402
from approvals.adapters.archive_store import ArchiveStore  # noqa: E402
from approvals.adapters.events import Events  # noqa: E402
from approvals.adapters.sfn import StepFunctions  # noqa: E402
from approvals.adapters.signer import KmsSigner  # noqa: E402
from approvals.adapters.store import Store  # noqa: E402
from approvals.commands.decide import decide  # noqa: E402
from approvals.commands.start import start_approval  # noqa: E402
from approvals.domain import Approval, Step, StepStatus  # noqa: E402
from approvals.wiring import Runtime  # noqa: E402


class KmsDigestFix:
    """KMS Sign and Verify with MessageType DIGEST take the message as the digest itself; moto
    ignores MessageType and hashes it again, so a signature made in moto would not verify with the
    key's public key (`verify --public-key`), as one made by KMS does. While installed, moto signs
    and verifies a DIGEST message of an ECC key pre-hashed, as KMS does. moto is pinned; this
    belongs with local/moto_fixes.py."""

    _active = threading.local()
    _originals: dict[str, Any] = {}

    @classmethod
    def install(cls) -> None:
        """Idempotent."""
        if cls._originals:
            return
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
        from moto.kms.responses import KmsResponse
        from moto.kms.utils import ECDSAPrivateKey, validate_signing_algorithm

        cls._originals = {"response.sign": KmsResponse.sign, "response.verify": KmsResponse.verify,
                          "key.sign": ECDSAPrivateKey.sign, "key.verify": ECDSAPrivateKey.verify}
        originals = cls._originals

        def in_digest_mode(name: str) -> Any:
            def call(self: Any) -> Any:
                cls._active.digest = self._get_param("MessageType") == "DIGEST"
                try:
                    return originals[name](self)
                finally:
                    cls._active.digest = False
            return call

        def algorithm(key: Any, signing_algorithm: str) -> Any:
            validate_signing_algorithm(signing_algorithm, key.valid_signing_algorithms)  # as moto's own
            return ec.ECDSA(Prehashed(key._ECDSAPrivateKey__hash_algorithm(signing_algorithm)))  # moto's, private

        def sign(self: Any, message: bytes, signing_algorithm: str) -> bytes:
            if not getattr(cls._active, "digest", False):
                return bytes(originals["key.sign"](self, message, signing_algorithm))
            return bytes(self.private_key.sign(message, algorithm(self, signing_algorithm)))

        def verify(self: Any, message: bytes, signature: bytes, signing_algorithm: str) -> bool:
            if not getattr(cls._active, "digest", False):
                return bool(originals["key.verify"](self, message, signature, signing_algorithm))
            try:
                self.private_key.public_key().verify(signature, message, algorithm(self, signing_algorithm))
            except InvalidSignature:
                return False
            return True

        KmsResponse.sign = in_digest_mode("response.sign")  # type: ignore[method-assign]
        KmsResponse.verify = in_digest_mode("response.verify")  # type: ignore[method-assign]
        ECDSAPrivateKey.sign = sign  # type: ignore[method-assign]
        ECDSAPrivateKey.verify = verify  # type: ignore[method-assign]

    @classmethod
    def uninstall(cls) -> None:
        if not cls._originals:
            return
        from moto.kms.responses import KmsResponse
        from moto.kms.utils import ECDSAPrivateKey

        KmsResponse.sign = cls._originals["response.sign"]  # type: ignore[method-assign]
        KmsResponse.verify = cls._originals["response.verify"]  # type: ignore[method-assign]
        ECDSAPrivateKey.sign = cls._originals["key.sign"]  # type: ignore[method-assign]
        ECDSAPrivateKey.verify = cls._originals["key.verify"]  # type: ignore[method-assign]
        cls._originals = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoStack(DeployedStack):
    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        server: bool = False,
        port: int | None = None,
        root: Path = ROOT,
        statemachines_dir: Path | None = None,
        parameters: Mapping[str, str] | None = None,
        function_env: Mapping[str, str] | None = None,
        tenant: str = "acme",
        poll_interval: float = 0.05,
        faults: _faults.FaultPlan | None = None,
    ) -> None:
        """`faults`: inject AWS's failures (local/faults.py); by default none, unless
        APPROVALS_FAULTS (`seed:rate`) is set."""
        self.time_scale = time_scale
        self.server = server
        self.port = port
        self.root = root
        self.statemachines_dir = statemachines_dir
        self.parameters = dict(parameters or {})
        self.function_env = dict(function_env or {})
        self.tenant = tenant
        self.poll_interval = poll_interval
        self.endpoint_url: str | None = None
        self.deployment: Deployment | None = None
        self.runtime: Runtime | None = None
        self._store: Store | None = None
        self._mock: Any = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._queue_url = ""
        self._seen_events: list[dict[str, Any]] = []
        self._saved_sfn_config: dict[str, Any] = {}
        self.faults = faults if faults is not None else _faults.from_environment(os.environ)

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> MotoStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def start(self) -> MotoStack:
        try:
            self._start()
        except BaseException:
            self.stop()  # leave no patched moto, server thread or environment behind
            raise
        return self

    def _start(self) -> None:
        # Fake credentials, so nothing here can reach a real account.
        self._set_env({**_FAKE_ENV, "AWS_ENDPOINT_URL": None})
        extra_env = dict(self.function_env)
        if self.server:
            from moto.core.config import default_user_config
            from moto.server import ThreadedMotoServer

            self.port = self.port or _free_port()
            self._saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
            default_user_config.update(_SFN_CONFIG)
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call otherwise
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
            self.endpoint_url = f"http://127.0.0.1:{self.port}"
            # MOTO_PORT: the ASL interpreter's own calls (lambda:invoke, ...) go to this server.
            self._set_env({"MOTO_PORT": str(self.port)})
            import requests

            requests.post(f"{self.endpoint_url}/moto-api/config", json=_SFN_CONFIG, timeout=5).raise_for_status()
            extra_env["AWS_ENDPOINT_URL"] = self.endpoint_url
        else:
            from moto import mock_aws

            self._mock = mock_aws(config=_SFN_CONFIG)
            self._mock.start()
        lambda_seam.install(extra_env)
        moto_tracking.install()  # moto kept every item it ever made (docs/performance.md)
        moto_transactions.install()  # before moto_fixes, whose lock wraps it
        moto_fixes.install()
        moto_limits.install()  # Step Functions' 256 KiB per state, uncatchable by States.ALL, as on AWS
        if self.faults is not None:
            _faults.install(self.faults)  # after moto_fixes: its lock wraps moto's methods, the faults wrap that
        KmsDigestFix.install()
        eventbridge.install()
        execution_events.install(self.client)
        aws_clients.clear()
        self.deployment = deploy(
            self.client, root=self.root, time_scale=self.time_scale, parameters=self.parameters,
            statemachines_dir=self.statemachines_dir,
        )
        self._store = Store(self.deployment.table_name, client=self.client("dynamodb"))
        # The functions that archive get the key from their environment (template.yaml); a
        # Runtime a test builds itself finds it in the process's, as `verify` does.
        self._set_env({"ARCHIVE_SIGNING_KEY": self.signing_key_arn})
        self.runtime = Runtime(
            store=self._store,
            sfn=StepFunctions(client=self.client("stepfunctions"), arn_prefix=self._arn_prefix()),
            events=Events(self.deployment.bus_name, client=self.client("events")),
            archive=ArchiveStore(self.deployment.archive_bucket, client=self.client("s3")),
            signer=KmsSigner(self.signing_key_arn, client=self.client("kms")),
        )
        self._capture_events()

    def _arn_prefix(self) -> str:
        assert self.deployment is not None
        arn = next(iter(self.deployment.state_machines.values()), "")
        return arn.rsplit(":", 1)[0] + ":" if arn else f"arn:aws:states:{REGION}:123456789012:stateMachine:"

    def _capture_events(self) -> None:
        # moto's EventBridge rules deliver to SQS (not to Lambda or Step Functions): a queue on
        # the bus lets tests and the demo see the business events the handlers emit.
        assert self.deployment is not None
        sqs, events = self.client("sqs"), self.client("events")
        self._queue_url = sqs.create_queue(QueueName=f"{self.deployment.stack_name}-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        bus = self.deployment.bus_name
        events.put_rule(Name="capture-all", EventBusName=bus, EventPattern=json.dumps({"source": ["approvals"]}))
        events.put_targets(Rule="capture-all", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
        self._seen_events = []

    def stop(self) -> None:
        execution_events.uninstall(self.client)  # the executions stopped below are the stack's end, not a run's
        if self.deployment is not None:
            self._stop_running_executions()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            from moto.core.config import default_user_config

            self._server.stop()
            self._server = None
            default_user_config["stepfunctions"] = self._saved_sfn_config  # type: ignore[typeddict-item]
        lambda_seam.uninstall()
        _faults.uninstall()  # before moto_fixes, whose wrappers it restores
        moto_fixes.uninstall()
        moto_limits.uninstall()
        moto_transactions.uninstall()
        moto_tracking.uninstall()
        KmsDigestFix.uninstall()
        aws_clients.clear()
        self._clients.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        self.deployment = None

    def _stop_running_executions(self) -> None:
        # Waiting Tasks hold interpreter threads; stop them so nothing outlives the mock.
        sfn = self.client("stepfunctions")
        for arn in self.deployment.state_machines.values() if self.deployment else ():
            try:
                running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
                for execution in running:
                    sfn.stop_execution(executionArn=execution["executionArn"])
            except Exception as error:  # teardown goes on regardless
                print(f"local stack: could not stop executions of {arn}: {error}", file=sys.stderr)

    def client(self, service_name: str) -> Any:
        with self._lock:
            found = self._clients.get(service_name)
            if found is None:
                found = boto3.session.Session().client(
                    service_name, region_name=REGION, endpoint_url=self.endpoint_url,
                    config=Config(retries={"max_attempts": 2}),
                )
                self._clients[service_name] = found
            return found

    # --- helpers for tests and the demo --------------------------------------------

    @property
    def store(self) -> Store:
        """The table's adapter itself (tests reach past the interface, e.g. to its client)."""
        if self._store is None:
            raise RuntimeError("the local stack is not started")
        return self._store

    @property
    def signing_key_arn(self) -> str:
        """The stack's archive signing key (its output ArchiveSigningKeyArn)."""
        if self.deployment is None:
            raise RuntimeError("the local stack is not started")
        return self.deployment.outputs["ArchiveSigningKeyArn"]

    @property
    def rt(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the local stack is not started")
        return self.runtime

    # What tests read to see where a run is: never faulted (local/faults.py, `observing`).

    def approval(self, approval_id: str, tenant: str | None = None) -> Approval:
        with _faults.observing():
            return super().approval(approval_id, tenant)

    def describe(self, approval_id: str) -> dict[str, Any]:
        with _faults.observing():
            return super().describe(approval_id)

    def audit(self, approval_id: str, tenant: str | None = None) -> list[dict[str, Any]]:
        with _faults.observing():
            return super().audit(approval_id, tenant)

    def start_approval(
        self, flow: str, requester: str, input: Mapping[str, Any], *, version: int | None = None,
        tenant: str | None = None,
    ) -> str:
        return start_approval(
            tenant or self.tenant, flow, version or self.version_of(flow), requester, input, rt=self.rt
        )

    def decide(
        self, approval_id: str, step: str, user: str, decision: str = "approve", comment: str | None = None,
        *, tenant: str | None = None,
    ) -> Approval:
        return decide(tenant or self.tenant, approval_id, step, user, decision, comment, rt=self.rt)

    def wait_for_open_step(
        self, approval_id: str, step: str, timeout: float = 10.0, tenant: str | None = None
    ) -> Step:
        """The open stage of `step` once the machine has opened it; fails early if the run ended."""
        deadline = time.monotonic() + timeout
        while True:
            stage = self.approval(approval_id, tenant).current(step)
            if stage is not None and stage.status is StepStatus.OPEN:
                return stage
            status = self.describe(approval_id)["status"]
            if status != "RUNNING":
                raise AssertionError(f"{approval_id} ended {status} before {step} opened")
            if time.monotonic() > deadline:
                seen = stage.status.value if stage else "never opened"
                raise TimeoutError(f"{step} of {approval_id} did not open within {timeout}s ({seen})")
            time.sleep(self.poll_interval)

    def wait_for_end(self, approval_id: str, timeout: float = 15.0) -> tuple[str, dict[str, Any] | None]:
        """(execution status, parsed output) once the execution is no longer RUNNING."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(approval_id)
            if described["status"] != "RUNNING":
                output = described.get("output")
                return described["status"], json.loads(output) if output else None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{approval_id} still RUNNING after {timeout}s")
            time.sleep(self.poll_interval)

    def publish(self, detail_type: str, detail: Mapping[str, Any], source: str = "external") -> list[Any]:
        """An event from another system on the approvals bus, delivered to its rules' functions."""
        assert self.deployment is not None
        return eventbridge.publish(self.client, self.deployment.bus_name, detail_type, detail, source)

    def events(self, approval_id: str | None = None) -> list[dict[str, Any]]:
        """Business events seen on the bus so far (`{"detail-type", "detail", ...}`), oldest first."""
        sqs = self.client("sqs")
        while True:
            batch = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                self._seen_events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [e for e in self._seen_events if approval_id is None or e["detail"].get("approval_id") == approval_id]

    # --- driving a run ---------------------------------------------------------------

    def human_states(self, flow: str, version: int | None = None) -> dict[str, str]:
        """State name -> step id of every human-step Task (waitForTaskToken) of a deployed machine."""
        assert self.deployment is not None
        definition = self.deployment.definitions[f"{flow}-v{version or self.version_of(flow)}"]
        found: dict[str, str] = {}

        def walk(states: Mapping[str, Any]) -> None:
            for name, state in states.items():
                if str(state.get("Resource", "")).endswith("waitForTaskToken"):
                    found[name] = state["Parameters"]["Payload"]["step"]
                for branch in state.get("Branches", []):
                    walk(branch["States"])
                processor = state.get("ItemProcessor") or state.get("Iterator")
                if processor:
                    walk(processor["States"])

        walk(definition["States"])
        return found

    def human_step_entries(self, approval_id: str) -> list[str]:
        """Step ids of the human-step states the execution entered, in order (from its history)."""
        approval = self.approval(approval_id)
        names = self.human_states(approval.flow, approval.flow_version)
        entered = [e["stateEnteredEventDetails"]["name"] for e in self.history(approval_id)
                   if e["type"] == "TaskStateEntered"]
        return [names[name] for name in entered if name in names]

    def drive(
        self,
        approval_id: str,
        plan: Mapping[str, str | Sequence[str]],
        decision: str = "approve",
        timeout: float = 20.0,
        on_event: Callable[[str, Any], None] | None = None,
    ) -> tuple[str, dict[str, Any] | None, list[str]]:
        """Let the people in `plan` (step -> user or users, in deciding order) decide each stage as
        it opens, until the run ends. Returns (execution status, output, steps in opening order).
        A stage of a step not in the plan is an error: the flow took a path the caller did not expect."""
        deadline = time.monotonic() + timeout
        handled: set[tuple[str, int]] = set()
        opened: list[str] = []
        while True:
            for stage in self.approval(approval_id).steps:
                key = (stage.step, stage.stage)
                if stage.status is not StepStatus.OPEN or key in handled:
                    continue
                handled.add(key)
                opened.append(stage.step)
                if on_event:
                    on_event("opened", stage)
                if stage.step not in plan:
                    raise AssertionError(f"unexpected step {stage.step} opened for {stage.assignees}")
                users = plan[stage.step]
                for user in [users] if isinstance(users, str) else users:
                    after = self.decide(approval_id, stage.step, user, decision).current(stage.step)
                    if on_event:
                        on_event("decided", (user, decision, after))
                    if after is None or after.status is not StepStatus.OPEN:
                        break
            status = self.describe(approval_id)["status"]
            if status != "RUNNING":
                status, output = self.wait_for_end(approval_id)
                return status, output, opened
            if time.monotonic() > deadline:
                raise TimeoutError(f"{approval_id} still RUNNING after {timeout}s; opened so far: {opened}")
            time.sleep(self.poll_interval)
