"""One boto3 client per service, created on first use and reused across warm invocations."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


def client(service: str) -> Any:
    """A cached client; the cache key includes region and endpoint so a local stack that points
    `AWS_ENDPOINT_URL` somewhere else gets its own client instead of a stale one."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint)
    with _lock:  # boto3's default session is not thread-safe; Parallel branches run handlers in threads
        found = _clients.get(key)
        if found is None:
            found = boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG)
            _clients[key] = found
        return found


def clear() -> None:
    """Forget cached clients (tests that restart a mock start from scratch)."""
    with _lock:
        _clients.clear()
