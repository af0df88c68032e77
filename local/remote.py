"""The integration suite's second target: template.yaml as already deployed on LocalStack or AWS
(or by `make serve`, whose moto answers where LocalStack would), found by its CloudFormation stack.

`Target.from_env()` reads what to run against:

    APPROVALS_TARGET      local (default: the in-process local stack), localstack or aws
    APPROVALS_STACK       the stack's name (default approvals-dev, as samconfig.toml deploys it)
    APPROVALS_TIME_SCALE  how many times faster than real time the deployed machines run (default 1;
                          `make serve` runs at 3600)
    APPROVALS_MAX_WAIT    seconds a test may wait for a flow timeout (default 300); tests of longer
                          timeouts are deselected, with the reason shown
    APPROVALS_API_URL     the deployed API (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`,
                          the stack's `ApiUrl` output): requests go through API Gateway and its
                          authorizer instead of the local gateway in front of ApiFunction
    APPROVALS_TOKEN_COMMAND  with APPROVALS_API_URL: a shell command printing a token for the user
                          and tenant in $APPROVALS_USER and $APPROVALS_TENANT (e.g. a Cognito
                          admin-initiate-auth); tokens are never passed in URLs
    localstack: endpoints from localstack-client ($LOCALSTACK_HOST, default localhost:4566)
    aws: boto3's own configuration ($AWS_PROFILE, $AWS_REGION)

`RemoteStack` answers what the tests and the local gateway ask of `MotoStack` (local/deployed.py)
from CloudFormation's record of the stack. The command line prints that record, and loads a
tenant directory into the stack's table:

    python -m local.remote describe
    python -m local.remote load-directory flows/directory.yaml
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .deploy import ROOT, Deployment, seed_directory
from .deployed import DeployedStack

KINDS = ("local", "localstack", "aws")
LOCAL_TIME_SCALE = 3600.0  # the in-process stack: one hour of flow time is one second


class TargetError(RuntimeError):
    """The target is misconfigured or its stack cannot be found: the message says what to do."""


@dataclass(frozen=True)
class Target:
    kind: str
    stack_name: str = "approvals-dev"
    time_scale: float = LOCAL_TIME_SCALE
    max_wait: float = 300.0
    localstack_host: str | None = None  # host:port; None: localstack-client's default
    api_url: str | None = None
    token_command: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Target:
        env = os.environ if environ is None else environ
        kind = (env.get("APPROVALS_TARGET") or "local").strip().lower()
        if kind not in KINDS:
            raise TargetError(f"APPROVALS_TARGET={kind!r}: expected one of {', '.join(KINDS)}")
        try:
            scale = float(env.get("APPROVALS_TIME_SCALE") or (LOCAL_TIME_SCALE if kind == "local" else 1))
            max_wait = float(env.get("APPROVALS_MAX_WAIT") or 300)
        except ValueError as error:
            raise TargetError(f"APPROVALS_TIME_SCALE and APPROVALS_MAX_WAIT are numbers: {error}") from None
        if scale <= 0 or max_wait <= 0:
            raise TargetError("APPROVALS_TIME_SCALE and APPROVALS_MAX_WAIT must be positive")
        api_url, token_command = env.get("APPROVALS_API_URL") or None, env.get("APPROVALS_TOKEN_COMMAND") or None
        if api_url and (kind == "local" or not token_command):
            raise TargetError("APPROVALS_API_URL needs APPROVALS_TARGET=localstack or aws, and "
                              "APPROVALS_TOKEN_COMMAND to get tokens from your identity provider")
        return cls(kind=kind, stack_name=env.get("APPROVALS_STACK") or "approvals-dev", time_scale=scale,
                   max_wait=max_wait, localstack_host=env.get("LOCALSTACK_HOST") or None, api_url=api_url,
                   token_command=token_command)

    @property
    def remote(self) -> bool:
        return self.kind != "local"

    def token(self, user: str, tenant: str) -> str:
        """A token from APPROVALS_TOKEN_COMMAND for `user` of `tenant`."""
        if not self.token_command:
            raise TargetError("no APPROVALS_TOKEN_COMMAND")
        run = subprocess.run(self.token_command, shell=True, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "APPROVALS_USER": user, "APPROVALS_TENANT": tenant}, check=False)
        token = run.stdout.strip()
        if run.returncode != 0 or not token or any(c.isspace() for c in token):
            raise TargetError(f"APPROVALS_TOKEN_COMMAND for {user}@{tenant} exited {run.returncode}: "
                              f"{run.stderr.strip()[-300:] or 'no token printed'}")
        return token

    def seconds(self, hours: float) -> float:
        """How long `hours` of flow time take on this target."""
        return hours * 3600 / self.time_scale

    def session(self) -> Any:
        """A boto3-like session for the target's endpoints."""
        if self.kind == "localstack":
            from localstack_client.session import Session

            return Session(region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                           localstack_host=self.localstack_host)
        if self.kind == "aws":
            return boto3.session.Session()
        raise TargetError("the local target has no session: it is started in-process (local.stack)")

    def describe(self) -> str:
        if self.kind == "localstack":
            from localstack_client.config import get_service_endpoint

            endpoint = get_service_endpoint("cloudformation", localstack_host=self.localstack_host)
            return f"stack {self.stack_name} on LocalStack at {endpoint}" + (f", API {self.api_url}" if self.api_url
                                                                               else "")
        if self.kind == "aws":
            where = f"stack {self.stack_name} on AWS (profile {os.environ.get('AWS_PROFILE') or 'default'})"
            return where + (f", API {self.api_url}" if self.api_url else "")
        return "the in-process local stack"


class RemoteStack(DeployedStack):
    def __init__(self, stack_name: str, session: Any, *, tenant: str = "acme",
                 statemachines_dir: Path = ROOT / "statemachines") -> None:
        self.stack_name = stack_name
        self.session = session
        self.tenant = tenant
        self.statemachines_dir = statemachines_dir
        self.deployment: Deployment | None = None
        self.outputs: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_target(cls, target: Target, **kwargs: Any) -> RemoteStack:
        return cls(target.stack_name, target.session(), **kwargs)

    def __enter__(self) -> RemoteStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.deployment = None  # nothing to tear down: the stack belongs to whoever deployed it

    def client(self, service_name: str) -> Any:
        with self._lock:
            found = self._clients.get(service_name)
            if found is None:
                found = self.session.client(service_name, config=Config(retries={"max_attempts": 4}))
                self._clients[service_name] = found
            return found

    def start(self) -> RemoteStack:
        """Read the stack: its outputs, resources, functions, and the machines of statemachines/."""
        cfn = self.client("cloudformation")
        try:
            stack = cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except (ClientError, BotoCoreError) as error:
            raise TargetError(f"cannot read stack {self.stack_name}: {error}. Deploy it first "
                              "(docs/deploy.md), or name it with APPROVALS_STACK") from None
        if not str(stack["StackStatus"]).endswith("_COMPLETE") or "DELETE" in stack["StackStatus"]:
            raise TargetError(f"stack {self.stack_name} is {stack['StackStatus']}")
        outputs = self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        missing = [k for k in ("TableName", "EventBusName", "ArchiveBucketName") if k not in outputs]
        if missing:
            raise TargetError(f"stack {self.stack_name} has no output {', '.join(missing)}: not this template?")
        resources: dict[str, str] = {}
        lambdas: list[str] = []
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=self.stack_name):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
                if summary["ResourceType"] == "AWS::Lambda::Function":
                    lambdas.append(summary["LogicalResourceId"])
        lam = self.client("lambda")
        function_arns = {lid: lam.get_function(FunctionName=resources[lid])["Configuration"]["FunctionArn"]
                         for lid in lambdas}
        deployed, skipped = self._state_machines()
        self.deployment = Deployment(
            stack_name=self.stack_name, resources=resources, function_arns=function_arns,
            state_machines=deployed, table_name=outputs["TableName"], bus_name=outputs["EventBusName"],
            archive_bucket=outputs["ArchiveBucketName"], skipped=skipped,
        )
        return self

    def _state_machines(self) -> tuple[dict[str, str], dict[str, str]]:
        # By name, as the runtime finds them (`<flow>-v<version>`): in a `make serve` moto they
        # are not stack resources (local/deploy.py creates them beside the stack).
        wanted = sorted(p.name.removesuffix(".manifest.json") for p in self.statemachines_dir.glob("*.manifest.json"))
        found: dict[str, str] = {}
        for page in self.client("stepfunctions").get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] in wanted:
                    found[machine["name"]] = machine["stateMachineArn"]
        return found, {name: "not deployed on this target" for name in wanted if name not in found}

    def load_directory(self, path: Path) -> None:
        """Put a tenant directory (the shape of flows/directory.yaml) into the stack's table."""
        seed_directory(self.client, self.deployed.table_name, path)


def main(argv: list[str] | None = None) -> int:
    from approvals.domain import InvalidInput

    parser = argparse.ArgumentParser(prog="python -m local.remote", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("describe", help="what the target's stack holds: functions, machines, table")
    load = commands.add_parser("load-directory", help="put a tenant directory into the stack's table")
    load.add_argument("file", type=Path, help="a directory file, e.g. flows/directory.yaml")
    args = parser.parse_args(argv)
    try:
        target = Target.from_env()
        if not target.remote:
            raise TargetError("set APPROVALS_TARGET=localstack or aws (the local stack lives in-process only)")
        with RemoteStack.for_target(target) as stack:
            if args.command == "load-directory":
                stack.load_directory(args.file)
                print(f"{args.file}: loaded into {stack.deployed.table_name} ({target.describe()})")
                return 0
            deployed = stack.deployed
            print(target.describe())
            print(f"  table {deployed.table_name}, bus {deployed.bus_name}, archive {deployed.archive_bucket}")
            if "ApiUrl" in stack.outputs:
                print(f"  API {stack.outputs['ApiUrl']} (APPROVALS_API_URL)")
            print(f"  functions: {', '.join(sorted(deployed.function_arns))}")
            print(f"  machines: {', '.join(sorted(deployed.state_machines)) or 'none'}")
            for name, why in sorted(deployed.skipped.items()):
                print(f"  {name}: {why}")
            return 0
    except (TargetError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except InvalidInput as error:  # nothing was written
        print(f"error: {args.file}: {error}", file=sys.stderr)
        for detail in error.details:
            print(f"  {detail['field']}: {detail['problem']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
