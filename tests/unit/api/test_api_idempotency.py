"""POST /v1/flows/<flow>/approvals with an Idempotency-Key: the same key (same caller, same body)
starts once, and powertools' persistence layer behind it is built once per tenant and reused,
its records under the tenant's own partition (a DynamoDB table in moto)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import idempotency
from moto import mock_aws

from approvals.adapters import aws
from approvals.api import flows

from .conftest import FakeService

Call = Callable[..., tuple[int, Any]]
TABLE = "approvals-test"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    with mock_aws():
        aws.clear()
        flows._idempotent_start.cache_clear()
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        try:
            yield client
        finally:
            aws.clear()
            flows._idempotent_start.cache_clear()


def test_a_repeated_key_starts_once_and_the_layer_is_built_once_per_tenant(
    call: Call, fake_service: FakeService, table: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    class Counted(idempotency.DynamoDBPersistenceLayer):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs["static_pk_value"])
            super().__init__(**kwargs)

    monkeypatch.setattr(idempotency, "DynamoDBPersistenceLayer", Counted)  # imported by the first keyed start
    ids = iter(["a1", "a2", "a3"])
    fake_service.answer("start_approval", lambda: next(ids))
    body, key = {"input": {"days": 2}}, {"Idempotency-Key": "k-1"}

    first = call("POST", "/v1/flows/leave-request/approvals", body, headers=key)
    again = call("POST", "/v1/flows/leave-request/approvals", body, headers=key)
    other = call("POST", "/v1/flows/leave-request/approvals", body, headers=key,
                 claims={"sub": "gus", "tenant": "globex"})

    assert [status for status, _ in (first, again, other)] == [201, 201, 201]
    starts = [args for name, args, _ in fake_service.calls if name == "start_approval"]
    assert [args[0] for args in starts] == ["acme", "globex"]  # the repeat started nothing
    assert built == ["T#acme#IDEMPOTENCY", "T#globex#IDEMPOTENCY"]
    records = table.scan(TableName=TABLE)["Items"]
    assert sorted(item["pk"]["S"] for item in records) == ["T#acme#IDEMPOTENCY", "T#globex#IDEMPOTENCY"]


def test_the_same_key_with_another_body_is_400(call: Call, fake_service: FakeService, table: Any) -> None:
    key = {"Idempotency-Key": "k-2"}
    assert call("POST", "/v1/flows/leave-request/approvals", {"input": {"days": 2}}, headers=key)[0] == 201
    status, body = call("POST", "/v1/flows/leave-request/approvals", {"input": {"days": 3}}, headers=key)
    assert status == 400
    assert body["error"]["details"] == [{"field": "Idempotency-Key", "problem": "already used with a different body"}]
