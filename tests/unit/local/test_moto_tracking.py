"""local/moto_tracking.py: moto stops keeping every model object it makes, except the S3 ones its
reset needs; and moto's own behaviour is back once it is uninstalled."""

from __future__ import annotations

import copy

import boto3
from moto import mock_aws
from moto.core.common_models import BaseModel
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.s3.models import FakeKey

from local import moto_tracking


def _items_made(n: int) -> int:
    before = len(Item.instances_tracked)  # type: ignore[attr-defined]
    item = Item(DynamoType({"S": "a"}), DynamoType({"S": "b"}), {"pk": {"S": "a"}, "sk": {"S": "b"}})
    for _ in range(n):
        copy.deepcopy(item)  # as moto's update_item does for every update
    return len(Item.instances_tracked) - before  # type: ignore[attr-defined]


def test_items_made_are_not_kept_while_installed() -> None:
    original = BaseModel.__dict__["__new__"]
    with mock_aws():
        assert _items_made(10) == 11  # moto's own: every one kept
        moto_tracking.install()
        moto_tracking.install()
        try:
            assert _items_made(10) == 0
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="bucket")
            keys = len(FakeKey.instances_tracked)  # type: ignore[attr-defined]
            s3.put_object(Bucket="bucket", Key="k", Body=b"x")
            assert len(FakeKey.instances_tracked) == keys + 1  # type: ignore[attr-defined]  # S3's reset needs them
        finally:
            moto_tracking.uninstall()
        assert BaseModel.__dict__["__new__"] is original
        assert _items_made(1) == 2
