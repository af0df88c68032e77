"""local/moto_transactions.py: TransactWriteItems answers as moto's own does (the same writes, the same
cancellation reasons, the same rollback) while copying only the items it touches."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from bench.transactions import create_table
from local import moto_transactions

TABLE = "t"


@pytest.fixture
def patched() -> Iterator[None]:
    moto_transactions.install()
    try:
        yield
    finally:
        moto_transactions.uninstall()


def _table(ddb: Any, items: int) -> None:
    create_table(ddb, TABLE, ({"pk": {"S": f"a#{i % 10}"}, "sk": {"S": f"s#{i:05d}"}, "g": {"S": "x"},
                               "revision": {"N": "1"}} for i in range(items)))


def _key(i: int) -> dict[str, Any]:
    return {"pk": {"S": f"a#{i % 10}"}, "sk": {"S": f"s#{i:05d}"}}


def _mix(check_ok: bool) -> list[dict[str, Any]]:
    """Put (new) + Update + Delete + ConditionCheck, the last passing or not."""
    return [
        {"Put": {"TableName": TABLE, "Item": {**_key(900), "g": {"S": "x"}, "revision": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": TABLE, "Key": _key(3), "UpdateExpression": "SET revision = revision + :one",
                    "ConditionExpression": "revision = :rev",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":rev": {"N": "1"}}}},
        {"Delete": {"TableName": TABLE, "Key": _key(13)}},
        {"ConditionCheck": {"TableName": TABLE, "Key": _key(23), "ConditionExpression": "revision = :rev",
                            "ExpressionAttributeValues": {":rev": {"N": "1" if check_ok else "7"}}}},
    ]


def _state(ddb: Any) -> tuple[list[Any], list[Any]]:
    """Every item, in scan order, and the index's."""
    return (ddb.scan(TableName=TABLE)["Items"], ddb.query(
        TableName=TABLE, IndexName="gsi", KeyConditionExpression="g = :x",
        ExpressionAttributeValues={":x": {"S": "x"}})["Items"])


def _run(items: list[dict[str, Any]], seed: int = 50) -> tuple[Any, Any, Any]:
    """(state before, error or None, state after) of one transaction on a fresh table."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb, seed)
        before = _state(ddb)
        error: Any = None
        try:
            ddb.transact_write_items(TransactItems=items)
        except ClientError as failed:
            error = (failed.response["Error"]["Code"], failed.response.get("CancellationReasons"))
        return before, error, _state(ddb)


def _as_moto(items: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    assert DynamoDBBackend.transact_write_items is not moto_transactions.transact_write_items
    return _run(items)


def test_a_failed_condition_changes_nothing_and_gives_moto_reasons(patched: None) -> None:
    before, error, after = _run(_mix(check_ok=False))
    assert after == before  # the Put, the Update and the Delete all undone, in scan order too
    assert error == ("TransactionCanceledException", [
        {"Code": "None"}, {"Code": "None"}, {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}])
    moto_transactions.uninstall()
    assert _as_moto(_mix(check_ok=False))[1:] == (error, after)


def test_a_failure_in_the_middle_cancels_the_writes_after_it_too(patched: None) -> None:
    items = _mix(check_ok=True)
    items[1]["Update"]["ExpressionAttributeValues"][":rev"] = {"N": "9"}
    before, error, after = _run(items)
    assert after == before
    assert [reason["Code"] for reason in error[1]] == ["None", "ConditionalCheckFailed", "None", "None"]
    moto_transactions.uninstall()
    assert _as_moto(items)[1:] == (error, after)


def test_put_update_delete_and_condition_check_together(patched: None) -> None:
    before, error, after = _run(_mix(check_ok=True))
    assert error is None
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in after[0]}
    assert items[("a#0", "s#00900")]["revision"] == {"N": "1"}
    assert items[("a#3", "s#00003")]["revision"] == {"N": "2"}
    assert ("a#3", "s#00013") not in items
    assert len(after[0]) == len(before[0]) and len(after[1]) == len(before[1])  # one in, one out
    moto_transactions.uninstall()
    assert _as_moto(_mix(check_ok=True))[1:] == (error, after)


def test_an_invalid_update_undoes_the_earlier_writes(patched: None) -> None:
    items = _mix(check_ok=True)[:2] + [{"Update": {"TableName": TABLE, "Key": _key(5),
                                                   "UpdateExpression": "SET #missing = :v",
                                                   "ExpressionAttributeValues": {":v": {"N": "1"}}}}]
    before, error, after = _run(items)
    assert after == before and error[0] == "TransactionCanceledException"  # moto's (AWS: ValidationException)
    moto_transactions.uninstall()
    assert _as_moto(items)[1:] == (error, after)


def _objects_copied(monkeypatch: pytest.MonkeyPatch, table_items: int, check_ok: bool) -> int:
    """How many objects `copy.deepcopy` visits during one transaction (its recursion counted too)."""
    visited = [0]
    deepcopy = copy.deepcopy

    def counting(x: Any, memo: Any = None, _nil: Any = ()) -> Any:
        visited[0] += 1
        return deepcopy(x, memo)

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb, table_items)
        monkeypatch.setattr(copy, "deepcopy", counting)
        try:
            ddb.transact_write_items(TransactItems=_mix(check_ok))
        except ClientError:
            pass
        monkeypatch.setattr(copy, "deepcopy", deepcopy)
    return visited[0]


@pytest.mark.parametrize("check_ok", [True, False])
def test_copies_do_not_grow_with_the_table(patched: None, monkeypatch: pytest.MonkeyPatch, check_ok: bool) -> None:
    small, large = (_objects_copied(monkeypatch, n, check_ok) for n in (100, 2000))
    assert 0 < small == large
    moto_transactions.uninstall()
    assert _objects_copied(monkeypatch, 2000, check_ok) > 10 * _objects_copied(monkeypatch, 100, check_ok)  # moto's


def test_install_is_idempotent_and_uninstall_restores_moto() -> None:
    original = DynamoDBBackend.transact_write_items
    moto_transactions.install()
    moto_transactions.install()
    assert DynamoDBBackend.transact_write_items is moto_transactions.transact_write_items
    moto_transactions.uninstall()
    assert DynamoDBBackend.transact_write_items is original
