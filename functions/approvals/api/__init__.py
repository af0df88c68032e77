"""The HTTP API: `app` (a powertools resolver) with its `logger` and `metrics`."""

from __future__ import annotations

from .app import app, logger, metrics

__all__ = ["app", "logger", "metrics"]
