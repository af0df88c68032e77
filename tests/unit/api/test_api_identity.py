"""Who the caller is comes from the authorizer's part of the request context, and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from approvals.api.identity import Caller, caller_from_event
from approvals.domain.directory import APPROVAL_ID, NAME, directory_problems


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
    {"claims": {"sub": "ann\n", "tenant": "acme"}},  # `$` matches before a final newline: fullmatch
    {"claims": {"sub": "ann", "tenant": "acme\n"}},
    {"claims": {"sub": "ann", "custom:tenant": "acme\n"}},
    {"sub": "ann\n", "tenant": "acme"},
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


@pytest.mark.parametrize("pattern", [NAME, APPROVAL_ID])
def test_id_patterns_refuse_a_trailing_newline_with_fullmatch(pattern: Any) -> None:
    assert pattern.fullmatch("ann") and not pattern.fullmatch("ann\n")
    # the pattern text stays `^...$`: pydantic (Rust regex) and OpenAPI read `$` as the end of the text
    assert pattern.pattern.startswith("^") and pattern.pattern.endswith("$")


def test_a_directory_id_with_a_trailing_newline_is_a_problem() -> None:
    found = directory_problems({"tenant": "acme\n", "users": [{"id": "ann\n"}, {"id": "bob"}]})
    assert {p["field"] for p in found} == {"tenant", "users[0].id"}
