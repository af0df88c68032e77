"""`DeployedStack`: what tests, the gateway and the demo read of a deployed template.yaml, wherever
it runs. `MotoStack` (local/stack.py) deploys it into moto itself; `RemoteStack`
(local/remote.py) finds one already deployed on LocalStack or AWS. Both answer the same
questions through boto3: which physical resource a logical id became, an approval as the table
holds it, its execution and that execution's history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from approvals.adapters.store import Store
from approvals.domain import Approval
from approvals.domain.directory import NAME  # who may hold a token: the gateway checks it too

from .deploy import Deployment

__all__ = ["NAME", "DeployedStack"]


class DeployedStack:
    deployment: Deployment | None
    tenant: str

    def client(self, service_name: str) -> Any:
        raise NotImplementedError

    @property
    def deployed(self) -> Deployment:
        if self.deployment is None:
            raise RuntimeError("the stack is not started")
        return self.deployment

    def resource(self, logical_id: str) -> str:
        """The physical id of a template resource, e.g. a function's name."""
        return self.deployed.resources[logical_id]

    @property
    def store(self) -> Store:
        return Store(self.deployed.table_name, client=self.client("dynamodb"))

    def version_of(self, flow: str) -> int:
        """The highest deployed version of `flow`."""
        deployed = self.deployment.state_machines if self.deployment else {}
        versions = [int(name.rsplit("-v", 1)[1]) for name in deployed if name.rsplit("-v", 1)[0] == flow]
        if not versions:
            skipped = self.deployment.skipped if self.deployment else {}
            raise LookupError(f"no state machine deployed for {flow} (skipped: {skipped})")
        return max(versions)

    def approval(self, approval_id: str, tenant: str | None = None) -> Approval:
        return self.store.load(tenant or self.tenant, approval_id)

    def execution_arn(self, approval_id: str, tenant: str | None = None) -> str:
        """The run's execution: named by the approval id, on the machine of its flow version."""
        approval = self.approval(approval_id, tenant)
        machine = self.deployed.state_machines[f"{approval.flow}-v{approval.flow_version}"]
        return machine.replace(":stateMachine:", ":execution:") + f":{approval_id}"

    def describe(self, approval_id: str) -> dict[str, Any]:
        return dict(self.client("stepfunctions").describe_execution(executionArn=self.execution_arn(approval_id)))

    def history(self, approval_id: str) -> list[dict[str, Any]]:
        """The execution's history events, oldest first."""
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn(approval_id), "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def invoke(self, logical_id: str, payload: Mapping[str, Any]) -> Any:
        """Invoke a deployed function (e.g. the scheduled SweepFunction) and return its answer."""
        response = self.client("lambda").invoke(FunctionName=self.deployed.function_arns[logical_id],
                                                Payload=json.dumps(payload).encode())
        return json.loads(response["Payload"].read() or b"null")

    def audit(self, approval_id: str, tenant: str | None = None) -> list[dict[str, Any]]:
        """The approval's audit trail from the table."""
        return self.store.history(tenant or self.tenant, approval_id)
