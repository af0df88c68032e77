"""The archive document, its key, and the hash-chain verification (plus the S3 round trip on moto)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from approvals.adapters.archive_store import ArchiveStore
from approvals.archive.verify import main
from approvals.domain.archive_document import archive_key, build_document, decode, encode, verify_chain
from approvals.domain.audit import event_hash


def chain(n: int) -> list[dict[str, Any]]:
    events, prev = [], ""
    for seq in range(1, n + 1):
        event: dict[str, Any] = {
            "seq": seq, "type": "Decision Recorded", "actor": f"user{seq}", "acting_for": None,
            "at": f"2026-12-01T00:00:0{seq}.000Z", "data": {"step": "manager", "n": seq},
        }
        event["hash"] = event_hash(prev, event)
        event["prev_hash"] = prev
        prev = event["hash"]
        events.append(event)
    return events


def test_intact_chain_verifies() -> None:
    events = chain(4)
    assert verify_chain(events, head=events[-1]["hash"]) is None


def test_changed_event_is_the_first_broken_link() -> None:
    events = chain(4)
    events[2]["data"]["n"] = 99
    broken = verify_chain(events)
    assert broken is not None and broken.seq == 3
    assert "changed" in broken.reason


def test_removed_event_breaks_the_next_link() -> None:
    events = chain(4)
    del events[1]
    broken = verify_chain(events)
    assert broken is not None and broken.seq == 2


def test_truncated_tail_is_caught_by_the_head() -> None:
    events = chain(4)
    broken = verify_chain(events[:3], head=events[-1]["hash"])
    assert broken is not None and broken.seq == 4


def test_key_is_partitioned_by_tenant_flow_and_date() -> None:
    key = archive_key("acme", "leave-request", "2026-12-01T10:00:00.000Z", "abc")
    assert key == "tenant=acme/flow=leave-request/date=2026-12-01/abc.json.gz"


def test_encoding_is_stable_and_round_trips() -> None:
    doc = build_document({"id": "abc", "last_hash": "h"}, chain(2))
    assert encode(doc) == encode(copy.deepcopy(doc))
    assert decode(encode(doc)) == doc


def test_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = chain(3)
    good = tmp_path / "good.json.gz"
    good.write_bytes(encode(build_document({"last_hash": events[-1]["hash"]}, events)))
    assert main(["verify", str(good)]) == 0
    events[0]["actor"] = "mallory"
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(encode(build_document({"last_hash": events[-1]["hash"]}, events)))
    assert main(["verify", str(bad)]) == 1
    assert "broken at event #1" in capsys.readouterr().err


def test_s3_round_trip() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive")
        store = ArchiveStore(bucket="archive", client=s3)
        blob = encode(build_document({"id": "abc"}, chain(1)))
        store.put("tenant=acme/x.json.gz", blob)
        assert store.get("tenant=acme/x.json.gz") == blob
