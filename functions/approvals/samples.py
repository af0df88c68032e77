"""Sample action functions for the example flows (CreatePurchaseOrder, IssuePayout, ...).

One module, one handler; the template gives each function its `ACTION_NAME`. To rehearse
failures (retries, compensation, outcome `failed`), list names in `FAIL_ACTIONS`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from approvals.settings import settings

logger = Logger(service=settings().service_name)

ACTIONS = (
    "CreatePurchaseOrder",
    "CancelPurchaseOrder",
    "NotifyVendor",
    "IssuePayout",
    "GrantAccess",
    "RevokeAccess",
    "SignContract",
    "VoidContract",
)


class ActionFailed(Exception):
    """The action refused; Step Functions sees the error name `ActionFailed`."""


def failing_actions() -> set[str]:
    return set(settings().fail_actions)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = settings().action_name
    logger.append_keys(action=action, approval_id=event.get("approval_id"), step=event.get("step"))
    if action in failing_actions():
        raise ActionFailed(f"{action} failed (listed in FAIL_ACTIONS)")
    # A stable reference derived from the request: a retried action yields the same one.
    seed = json.dumps([action, event.get("approval_id"), event.get("step")], sort_keys=True)
    reference = f"{action[:3].upper()}-{hashlib.sha256(seed.encode()).hexdigest()[:10]}"
    logger.info("action done", extra={"reference": reference})
    return {"action": action, "reference": reference, "status": "done"}
