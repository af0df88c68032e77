"""A finished approval is archived to S3 before its table items get a TTL; reads then fall back
to the archive, and the archive verifies against the hash chain."""

from __future__ import annotations

from approvals.adapters.store_items import approval_pk, to_ddb
from approvals.archive.verify import main
from approvals.domain import NotFound
from approvals.domain.archive_document import decode, verify_chain
from approvals.queries.approval import get_approval
from approvals.queries.history import history
from local.stack import MotoStack


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
    assert main(["verify", f"s3://{bucket}/{key}"]) == 0

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
    table, bucket = stack.rt.store.table_name, stack.rt.archive.bucket
    head = stack.client("dynamodb").get_item(TableName=table, Key=to_ddb({"pk": approval_pk("acme", approval_id),
                                                                          "sk": "A"}))["Item"]
    key = head["archive_key"]["S"]
    document = decode(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    document["events"][2]["actor"] = "mallory"
    broken = verify_chain(document["events"], document["approval"]["last_hash"])
    assert broken is not None and broken.seq == 3
