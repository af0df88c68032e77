"""401 for a request without identity and 413 for a body over 256 KiB, before anything else."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from approvals.api.app import MAX_BODY_BYTES, app

from .conftest import FakeService, make_event

Call = Callable[..., tuple[int, Any]]


def protected_routes() -> list[tuple[str, str]]:
    found = []
    for route in app._static_routes + app._dynamic_routes:
        path = route.path.replace("<approval_id>", "a1").replace("<flow>", "leave-request")
        if path not in ("/v1/health", "/openapi.json", "/docs"):
            found.append((route.method, path))
    return sorted(found)


def test_every_api_route_is_protected() -> None:
    routes = protected_routes()
    assert len(routes) >= 14  # the table of api.md, less /health
    assert ("POST", "/v1/approvals/a1/decisions") in routes


@pytest.mark.parametrize(("method", "path"), protected_routes())
def test_no_identity_is_401_on_every_route(method: str, path: str, call: Call, fake_service: FakeService) -> None:
    status, body = call(method, path, {"step": "manager"}, claims=None)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    assert fake_service.calls == []


def test_401_comes_before_validation(call: Call, fake_service: FakeService) -> None:
    assert call("POST", "/v1/approvals/a1/decisions", "{not json", claims=None)[0] == 401
    assert call("POST", "/v1/approvals/a1/decisions", {"nonsense": 1}, claims={"sub": "ann"})[0] == 401


def test_unknown_route_without_identity_is_401_not_404(call: Call) -> None:
    assert call("GET", "/v1/nothing-here", claims=None)[0] == 401


@pytest.mark.parametrize("path", ["/v1/health", "/openapi.json", "/docs"])
def test_public_routes_need_no_identity(path: str, call: Call) -> None:
    response = app.resolve(make_event("GET", path, claims=None), None)  # type: ignore[arg-type]
    assert response["statusCode"] == 200


def test_health(call: Call) -> None:
    assert call("GET", "/v1/health", claims=None) == (200, {"status": "ok"})


def comment_of(size: int) -> str:
    """A valid comments body of exactly `size` bytes."""
    empty = json.dumps({"text": ""})
    return json.dumps({"text": "x" * (size - len(empty))})


def test_body_at_the_limit_is_accepted(call: Call, fake_service: FakeService) -> None:
    fake_service.answer("comment", {"text": "…"})
    body = comment_of(MAX_BODY_BYTES)
    assert len(body.encode()) == MAX_BODY_BYTES
    # 400 (too long for a comment) proves it got past the size check to validation
    assert call("POST", "/v1/approvals/a1/comments", body)[0] == 400


def test_body_over_256_kib_is_413(call: Call, fake_service: FakeService) -> None:
    status, body = call("POST", "/v1/approvals/a1/comments", comment_of(MAX_BODY_BYTES + 1))
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert fake_service.calls == []


def test_413_comes_before_validation_and_counts_bytes_not_characters(call: Call) -> None:
    assert call("POST", "/v1/approvals/a1/decisions", "{" * (MAX_BODY_BYTES + 1))[0] == 413
    # 100 Ki three-byte characters: 300 KiB on the wire
    wide = json.dumps({"text": "€" * 100 * 1024}, ensure_ascii=False)
    assert call("POST", "/v1/approvals/a1/comments", wide)[0] == 413


def test_base64_body_is_measured_decoded(call: Call) -> None:
    raw = comment_of(MAX_BODY_BYTES + 10).encode()
    assert call("POST", "/v1/approvals/a1/comments", base64.b64encode(raw).decode(), base64=True)[0] == 413
    small = base64.b64encode(json.dumps({"text": "hi"}).encode()).decode()
    status, _ = call("POST", "/v1/approvals/a1/comments", small, base64=True)
    assert status != 413
