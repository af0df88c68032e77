"""EventBridge delivery that moto does not do: its rules deliver to SQS and logs, not to Lambda.
Here an event put on the bus is also handed to every Lambda target of every rule on that bus
whose pattern matches, as AWS would (invoking "the target the rule names yourself")."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule

ACCOUNT = "123456789012"
_original_send: Any = None


def install() -> None:
    """moto raises NotImplementedError when a matching rule has a Lambda target, which would fail
    the put_events call itself: it skips those targets instead, and `publish` invokes them."""
    global _original_send
    if _original_send is not None:
        return
    _original_send = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        everything = self.targets
        self.targets = [t for t in everything if ":lambda:" not in t["Arn"]]
        try:
            _original_send(self, original_event, transform_input)
        finally:
            self.targets = everything

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _allows(allowed: list[Any], value: Any) -> bool:
    """One value against a pattern's list: equal to an entry, or starting with a `{"prefix": ...}` one."""
    for entry in allowed:
        if isinstance(entry, Mapping):
            if "prefix" in entry and isinstance(value, str) and value.startswith(str(entry["prefix"])):
                return True
        elif entry == value:
            return True
    return False


def _matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Equality and prefix patterns (`{"source": [...], "detail": {"arn": [{"prefix": ...}]}}`), which
    is all the template uses."""
    for key, allowed in pattern.items():
        if isinstance(allowed, list):
            if not _allows(allowed, event.get(key)):
                return False
        elif isinstance(allowed, Mapping):
            inner = event.get(key)
            if not isinstance(inner, Mapping) or not _matches(allowed, inner):
                return False
    return True


def publish(
    client: Callable[[str], Any], bus: str, detail_type: str, detail: Mapping[str, Any], source: str = "external"
) -> list[dict[str, Any]]:
    """Put the event on the bus, then invoke the matching rules' Lambda targets with the event as
    EventBridge would shape it. Returns each target's parsed answer."""
    events, lam = client("events"), client("lambda")
    entry = {"EventBusName": bus, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
    put = events.put_events(Entries=[entry])["Entries"][0]
    if put.get("ErrorCode"):  # refused (local/faults.py injects this): no rule sees the event
        return []
    event_id = put.get("EventId") or str(uuid.uuid4())
    envelope = {
        "version": "0", "id": event_id, "detail-type": detail_type, "source": source, "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": lam.meta.region_name,
        "resources": [], "detail": dict(detail),
    }
    answers: list[dict[str, Any]] = []
    for rule in events.list_rules(EventBusName=bus).get("Rules", []):
        pattern = json.loads(rule.get("EventPattern") or "{}")
        if not pattern or not _matches(pattern, envelope):
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", []):
            if ":lambda:" not in target["Arn"]:
                continue
            response = lam.invoke(FunctionName=target["Arn"], Payload=json.dumps(envelope).encode())
            answers.append(json.loads(response["Payload"].read() or b"null"))
            if response.get("FunctionError"):
                _dead_letter(client, target, envelope)
    return answers


def _dead_letter(client: Callable[[str], Any], target: Mapping[str, Any], envelope: Mapping[str, Any]) -> None:
    """The target failed: EventBridge would retry it (RetryPolicy) and, failing still, send the
    event to the target's dead-letter queue. Here it goes there at once (no retries)."""
    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        return
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=str(queue_arn).rsplit(":", 1)[-1])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))
