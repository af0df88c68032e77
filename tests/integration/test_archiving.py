"""A finished approval is archived to S3 before its table items get a TTL; reads then fall back
to the archive. The archive is signed with the stack's KMS key and locked (Object Lock): it
verifies (chain, fields, digest, signature: by KMS and offline), and a copy rewritten by whoever
can write the bucket does not, while the version written first stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from approvals.adapters.store_items import approval_pk, to_ddb
from approvals.archive.verify import main
from approvals.domain import NotFound
from approvals.domain.archive_document import decode, encode, verify_chain
from approvals.domain.audit import event_hash
from approvals.queries.approval import get_approval
from approvals.queries.history import history
from local.stack import MotoStack


def _archive_key(stack: MotoStack, approval_id: str) -> str:
    head = stack.client("dynamodb").get_item(TableName=stack.rt.store.table_name, Key=to_ddb(
        {"pk": approval_pk("acme", approval_id), "sk": "A"}))["Item"]
    return str(head["archive_key"]["S"])


def test_finished_approval_is_archived_then_read_back_from_s3(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-01"})
    status, output, _ = stack.drive(approval_id, {"manager": "bob", "hr": "ivy"})
    assert status == "SUCCEEDED" and output is not None and output["outcome"] == "approved"

    table, bucket = stack.rt.store.table_name, stack.rt.archive.bucket
    dynamodb, s3 = stack.client("dynamodb"), stack.client("s3")
    pk = approval_pk("acme", approval_id)
    items = dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                           ExpressionAttributeValues=to_ddb({":pk": pk}))["Items"]
    head = next(i for i in items if i["sk"]["S"] == "A")
    key = head["archive_key"]["S"]
    assert key.startswith("tenant=acme/flow=leave-request/date=") and key.endswith(f"/{approval_id}.json.gz")
    # Only after the archive write: every item of the approval expires, the pointer does not.
    for item in items:
        assert ("expires_at" in item) == (item["sk"]["S"] != "ARCHIVE"), item["sk"]
    document = decode(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert verify_chain(document["events"], document["approval"]["last_hash"]) is None
    assert document["format"] == 2 and document["signature"]["key_id"] == stack.signing_key_arn
    assert main(["verify", f"s3://{bucket}/{key}", "--key-id", stack.signing_key_arn]) == 0
    # Every version is locked for the retention (the template's defaults: GOVERNANCE, 365 days).
    locked = s3.head_object(Bucket=bucket, Key=key)
    assert locked["ObjectLockMode"] == "GOVERNANCE"
    assert locked["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=364)

    # TTL has run: everything but the pointer is gone. Reads come from the archive.
    for item in items:
        if item["sk"]["S"] != "ARCHIVE":
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    approval = get_approval("acme", approval_id, "ann", rt=stack.rt)
    assert approval.status.value == "approved"
    assert {s.step: s.status.value for s in approval.steps}["manager"] == "approved"
    trail = history("acme", approval_id, "bob", rt=stack.rt)
    assert trail["source"] == "archive"
    assert trail["events"][-1]["type"] == "Approval Completed"
    assert verify_chain(trail["events"]) is None
    # Still not visible to someone who took no part, and still not to another tenant.
    for tenant, user in (("acme", "frank"), ("globex", "ann")):
        try:
            get_approval(tenant, approval_id, user, rt=stack.rt)
        except NotFound:
            continue
        raise AssertionError(f"{tenant}/{user} could read the archived approval")


def test_tampered_archive_names_the_first_broken_link(stack: MotoStack) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-02"})
    stack.drive(approval_id, {"manager": "bob", "hr": "ivy"})
    key = _archive_key(stack, approval_id)
    document = decode(stack.client("s3").get_object(Bucket=stack.rt.archive.bucket, Key=key)["Body"].read())
    document["events"][2]["actor"] = "mallory"
    broken = verify_chain(document["events"], document["approval"]["last_hash"])
    assert broken is not None and broken.seq == 3


def _rewrite(document: dict[str, Any]) -> dict[str, Any]:
    """What a writer of the bucket can do: reject the approval, put someone else in the trail,
    re-hash the chain and move the head."""
    document["approval"]["status"] = "rejected"
    document["events"][1]["actor"] = "mallory"
    prev = ""
    for event in document["events"]:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(prev, event)
    document["approval"]["last_hash"] = prev
    document["seal"]["chain_head"] = prev
    return document


def test_a_rewritten_archive_fails_verify_and_the_first_version_stays(
        stack: MotoStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    approval_id = stack.start_approval("leave-request", "ann", {"days": 1, "start_date": "2026-12-03"})
    stack.drive(approval_id, {"manager": "bob", "hr": "ivy"})
    s3, bucket, key = stack.client("s3"), stack.rt.archive.bucket, _archive_key(stack, approval_id)
    original = s3.get_object(Bucket=bucket, Key=key)
    public_key = tmp_path / "archive-signing.pem"
    assert main(["public-key", "--key-id", stack.signing_key_arn, "--out", str(public_key)]) == 0
    assert main(["verify", f"s3://{bucket}/{key}", "--public-key", str(public_key)]) == 0  # offline, as KMS signs

    stack.rt.archive.put(key, encode(_rewrite(decode(original["Body"].read()))))  # a new version on top
    capsys.readouterr()
    for trust in (["--public-key", str(public_key)], ["--key-id", stack.signing_key_arn]):
        assert main(["verify", f"s3://{bucket}/{key}", *trust]) == 1
        err = capsys.readouterr().err
        assert "approval.status was changed" in err and "event #2 was changed" in err
        assert "broken at event" not in err  # the chain itself is consistent again
        assert "the document does not match the digest that was signed" in err

    # Object Lock: the version archiving wrote can be neither deleted nor overwritten in place.
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 2 and original["VersionId"] in {v["VersionId"] for v in versions}
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=original["VersionId"])
    first = s3.get_object(Bucket=bucket, Key=key, VersionId=original["VersionId"])["Body"].read()
    assert decode(first)["approval"]["status"] == "approved"
