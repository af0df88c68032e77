"""EventBridge: business events (source `approvals`) that mail/chat integrations listen to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..settings import settings
from . import aws

SOURCE = "approvals"


class Events:
    def __init__(self, bus_name: str | None = None, client: Any = None) -> None:
        self._bus_name = bus_name
        self._client = client

    @property
    def bus_name(self) -> str:
        return self._bus_name or settings().event_bus_name

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("events")
        return self._client

    def put(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        response = self.client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        # put_events reports per-entry failures in the body, not as an exception.
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {detail_type}: {response.get('Entries')}")
