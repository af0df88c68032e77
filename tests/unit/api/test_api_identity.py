"""Who the caller is comes from the authorizer's part of the request context, and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from approvals.api.identity import Caller, caller_from_event


def event(authorizer: Any) -> dict[str, Any]:
    return {"requestContext": {"authorizer": authorizer}, "body": '{"sub": "mallory", "tenant": "evil"}'}


@pytest.mark.parametrize("authorizer", [
    {"claims": {"sub": "ann", "tenant": "acme"}},  # Cognito authorizer, custom claim mapped to `tenant`
    {"claims": {"sub": "ann", "custom:tenant": "acme", "email": "ann@example.com"}},  # Cognito ID token
    {"sub": "ann", "tenant": "acme", "principalId": "ann"},  # Lambda authorizer context
    {"sub": "ann", "custom:tenant": "acme"},
])
def test_both_rest_authorizer_shapes(authorizer: dict[str, Any]) -> None:
    assert caller_from_event(event(authorizer)) == Caller(user="ann", tenant="acme")


def test_tenant_claim_wins_over_custom_tenant() -> None:
    found = caller_from_event(event({"claims": {"sub": "ann", "tenant": "acme", "custom:tenant": "other"}}))
    assert found == Caller(user="ann", tenant="acme")


@pytest.mark.parametrize("authorizer", [
    None,
    {},
    {"claims": {}},
    {"claims": {"sub": "ann"}},  # no tenant
    {"claims": {"tenant": "acme"}},  # no user
    {"claims": {"sub": "", "tenant": "acme"}},
    {"claims": {"sub": "ann", "tenant": 7}},
    {"claims": {"sub": "ann", "tenant": "acme#A#x"}},  # would reach into another key space
    {"claims": {"sub": "ann bob", "tenant": "acme"}},
    {"claims": {"sub": "a" * 200, "tenant": "acme"}},
    "not a mapping",
])
def test_no_usable_identity(authorizer: Any) -> None:
    assert caller_from_event(event(authorizer)) is None


def test_nothing_from_the_body_or_headers() -> None:
    spoof = {"body": '{"sub": "ann", "tenant": "acme"}', "headers": {"x-tenant": "acme", "x-user": "ann"},
             "requestContext": {}}
    assert caller_from_event(spoof) is None
    assert caller_from_event({}) is None


def test_the_user_claim_may_be_cognitos_user_name(monkeypatch: pytest.MonkeyPatch) -> None:
    claims = {"claims": {"sub": "5f1c2a9e-0b7d-4c1e-9a53-3a1f2b6c7d8e", "cognito:username": "ann",
                         "custom:tenant": "acme"}}
    assert caller_from_event(event(claims)) == Caller(user="5f1c2a9e-0b7d-4c1e-9a53-3a1f2b6c7d8e", tenant="acme")
    monkeypatch.setenv("USER_CLAIM", "cognito:username")
    assert caller_from_event(event(claims)) == Caller(user="ann", tenant="acme")
    # No such claim (a token of another issuer): no identity, not a fallback to `sub`.
    assert caller_from_event(event({"claims": {"sub": "ann", "custom:tenant": "acme"}})) is None
    monkeypatch.setenv("USER_CLAIM", "email")  # not one the template allows: the contract's `sub`
    assert caller_from_event(event(claims)) == Caller(user="5f1c2a9e-0b7d-4c1e-9a53-3a1f2b6c7d8e", tenant="acme")
