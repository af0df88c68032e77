"""The local gateway's own parts: the proxy event it builds and the tokens it accepts."""

from __future__ import annotations

import base64
from typing import Any, cast

import pytest

from approvals.api import app
from approvals.api.identity import Caller, caller_from_event
from local.gateway import Gateway
from local.stack import MotoStack

from .conftest import Context, FakeService


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway(cast(MotoStack, None))  # event() and tokens need no stack


def test_event_is_a_rest_proxy_event_with_cognito_claims(gateway: Gateway) -> None:
    claims = gateway.verify(f"Bearer {gateway.issue_token('ann', 'acme')}")
    assert claims is not None
    event = gateway.event("POST", "/v1/approvals/a%201/decisions?x=1&x=2&y=", [
        ("Content-Type", "application/json"), ("X-Multi", "a"), ("X-Multi", "b")], b'{"step": "s"}', claims)
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "v1/approvals/a 1/decisions"}
    assert (event["path"], event["httpMethod"], event["body"], event["isBase64Encoded"]) == (
        "/v1/approvals/a 1/decisions", "POST", '{"step": "s"}', False)
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"] and event["headers"]["X-Multi"] == "b"
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["requestContext"]["authorizer"]["claims"]["sub"] == "ann"
    assert caller_from_event(event) == Caller(user="ann", tenant="acme")


def test_public_resources_and_binary_bodies(gateway: Gateway) -> None:
    event = gateway.event("GET", "/v1/health", [], b"", None)
    assert (event["resource"], event["pathParameters"], event["body"]) == ("/v1/health", None, None)
    assert event["requestContext"]["authorizer"] is None
    binary = gateway.event("POST", "/v1/x", [], b"\xff\x00", None)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_the_handler_reads_the_gateways_event(gateway: Gateway, fake_service: FakeService) -> None:
    claims = gateway.verify(f"Bearer {gateway.issue_token('bob', 'acme')}")
    event = gateway.event("GET", "/v1/approvals/a1", [("Content-Type", "application/json")], b"", claims)
    assert app.resolve(event, Context())["statusCode"] == 200  # type: ignore[arg-type]
    assert fake_service.last("get_approval")[0] == ("acme", "a1", "bob")


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic YW5uOmFubg==", "Bearer not.a.jwt", "Bearer a.b.c",
])
def test_malformed_authorization_is_refused(gateway: Gateway, header: Any) -> None:
    assert gateway.verify(header) is None


def test_expired_or_foreign_tokens_are_refused(gateway: Gateway) -> None:
    assert gateway.verify(f"Bearer {gateway.issue_token('ann', 'acme', seconds=-1)}") is None
    other = Gateway(cast(MotoStack, None))  # another start, another key
    assert gateway.verify(f"Bearer {other.issue_token('ann', 'acme')}") is None
    assert gateway.verify(f"bearer {gateway.issue_token('ann', 'acme')}") is not None  # the scheme is case-blind
