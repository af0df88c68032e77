"""The archive document: its key, the hash chain, the seal and signature that cover all of it, the
`verify` command (each way an archive can be broken, tampered with or unreadable), the Signer's KMS
adapter, and the S3 and KMS round trips on moto."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from approvals.adapters.archive_store import ArchiveStore
from approvals.adapters.signer import KmsSigner, KmsVerifier
from approvals.archive.verify import main
from approvals.archive.write import archive_approval
from approvals.domain.archive_document import (
    FORMAT,
    archive_key,
    build_document,
    decode,
    document_digest,
    encode,
    seal,
    verify_chain,
)
from approvals.domain.audit import event_hash
from approvals.settings import MissingSetting
from approvals.wiring import Runtime
from local.stack import KmsDigestFix
from tests.signing import LocalSigner

TENANT, APPROVAL_ID = "acme", "abc"
FINISHED = "2026-12-01T12:00:00.000Z"
KEY = archive_key(TENANT, "leave-request", FINISHED, APPROVAL_ID)


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


def rehash(events: list[dict[str, Any]]) -> str:
    """What someone who can write the bucket can always do: make the chain consistent again."""
    prev = ""
    for event in events:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(prev, event)
    return prev


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
    key = archive_key("acme", "leave-request", "2026-12-10T10:00:00.000Z", "abc")
    assert key == "tenant=acme/flow=leave-request/date=2026-12-10/abc.json.gz"


def test_encoding_is_stable_and_round_trips() -> None:
    doc = build_document({"id": "abc", "last_hash": "h"}, chain(2))
    assert encode(doc) == encode(copy.deepcopy(doc))
    assert decode(encode(doc)) == doc


# --- a finished approval, archived by archive/write.py -----------------------------------------


class ItemsStore:
    """The two calls archive_approval makes of the store, on the items of one finished approval."""

    def __init__(self) -> None:
        pk = f"T#{TENANT}#A#{APPROVAL_ID}"
        events = chain(3)
        self.items: list[dict[str, Any]] = [
            {"pk": pk, "sk": "A", "kind": "approval", "id": APPROVAL_ID, "tenant": TENANT, "flow": "leave-request",
             "flow_version": 1, "status": "approved", "requester": "ann", "input": {"days": 1, "note": "Élan"},
             "revision": 7, "created_at": "2026-12-01T09:00:00.000Z", "updated_at": FINISHED,
             "completed_at": FINISHED, "event_seq": 3, "last_hash": events[-1]["hash"]},
            *({"pk": pk, "sk": f"E#{e['seq']:08d}", "kind": "event", **e} for e in events),
            {"pk": pk, "sk": "S#manager#1", "kind": "step", "step": "manager", "stage": 1, "status": "approved",
             "assignees": ["bob"], "decisions": [{"user": "bob", "decision": "approve", "at": "2026-12-01T10:00:00Z",
                                                  "comment": None}]},
        ]
        self.expired: list[tuple[Any, ...]] = []

    def approval_items(self, tenant: str, approval_id: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.items)

    def expire(self, tenant: str, approval_id: str, revision: int, key: str, expires_at: int) -> None:
        self.expired.append((tenant, approval_id, revision, key, expires_at))


class Blobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, blob: bytes) -> None:
        self.blobs[key] = blob

    def get(self, key: str) -> bytes:
        return self.blobs[key]


@pytest.fixture
def signer() -> LocalSigner:
    return LocalSigner()


@pytest.fixture
def archived(signer: LocalSigner) -> dict[str, Any]:
    """The document archive_approval wrote for the approval of ItemsStore."""
    rt = Runtime(store=ItemsStore(), sfn=None, events=None, archive=Blobs(), signer=signer,  # type: ignore[arg-type]
                 now=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert archive_approval(TENANT, APPROVAL_ID, rt=rt) == KEY
    assert rt.store.expired and rt.store.expired[0][3] == KEY  # type: ignore[attr-defined]
    return decode(rt.archive.get(KEY))


@pytest.fixture
def public_key(tmp_path: Path, signer: LocalSigner) -> Path:
    return signer.write_public_key(tmp_path / "archive-signing.pem")


@pytest.fixture(autouse=True)
def no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHIVE_SIGNING_KEY", raising=False)


def write(tmp_path: Path, document: dict[str, Any], name: str = "archive.json.gz") -> str:
    path = tmp_path / name
    path.write_bytes(encode(document))
    return str(path)


Verify = Callable[..., tuple[int, str, str]]


@pytest.fixture
def verify(capsys: pytest.CaptureFixture[str]) -> Verify:
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["verify", *args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_the_document_is_sealed_and_its_whole_digest_signed(archived: dict[str, Any], signer: LocalSigner) -> None:
    assert archived["format"] == FORMAT == 2
    body = {k: v for k, v in archived.items() if k != "signature"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).digest()
    assert signer.signed == [digest] == [document_digest(archived)]  # the Signer got the digest, no document
    signature = archived["signature"]
    assert (signature["key_id"], signature["algorithm"], signature["digest"]) == (
        signer.key_id, "ECDSA_SHA_256", digest.hex())
    assert base64.b64decode(signature["value"])
    assert archived["seal"]["chain_head"] == archived["events"][-1]["hash"] == archived["approval"]["last_hash"]
    fields = archived["seal"]["fields"]
    assert {"approval.status", "approval.requester", "approval.input", "steps[manager#1].decisions",
            "event #1", "event #3", "format"} <= set(fields)
    assert [s["step"] for s in archived["steps"]] == ["manager"]


def test_an_intact_archive_verifies_offline_with_the_public_key(
        archived: dict[str, Any], public_key: Path, tmp_path: Path, verify: Verify) -> None:
    code, out, err = verify(write(tmp_path, archived), "--public-key", str(public_key))
    assert (code, err) == (0, "")
    assert "ok, 3 events, chain intact" in out and "signature verified with the public key" in out


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return change


@pytest.mark.parametrize(("change", "named"), [
    (_set(["approval", "status"], "rejected"), "approval.status was changed"),
    (_set(["approval", "requester"], "mallory"), "approval.requester was changed"),
    (_set(["approval", "input", "days"], 30), "approval.input was changed"),
    (_set(["steps", 0, "decisions", 0, "decision"], "reject"), "steps[manager#1].decisions was changed"),
    (_set(["steps", 0, "assignees"], ["bob", "mallory"]), "steps[manager#1].assignees was changed"),
    (_set(["events", 1, "actor"], "mallory"), "broken at event #2: content does not match its hash"),
    (_set(["approval", "note"], "added later"), "approval.note was added"),
], ids=["status", "requester", "input", "decision", "assignees", "event", "added field"])
def test_a_change_anywhere_is_named(change: Callable[[dict[str, Any]], None], named: str, archived: dict[str, Any],
                                    public_key: Path, tmp_path: Path, verify: Verify) -> None:
    change(archived)
    code, out, err = verify(write(tmp_path, archived), "--public-key", str(public_key))
    assert (code, out) == (1, "")
    assert named in err
    assert "does not match the digest that was signed" in err


def test_rehashing_and_resealing_does_not_help_without_the_key(
        archived: dict[str, Any], public_key: Path, tmp_path: Path, verify: Verify) -> None:
    """The hole this closes: change status and an event, re-hash the chain, move last_hash and the
    chain head, recompute the seal and the digest. Everything is consistent but the signature."""
    forged = copy.deepcopy(archived)
    forged["approval"]["status"] = "rejected"
    forged["events"][1]["actor"] = "mallory"
    forged["approval"]["last_hash"] = rehash(forged["events"])
    forged = {**seal(forged), "signature": forged["signature"]}
    forged["signature"]["digest"] = document_digest(forged).hex()

    code, _, err = verify(write(tmp_path, forged), "--public-key", str(public_key))
    assert code == 1
    assert err.strip().splitlines() == [
        f"{tmp_path / 'archive.json.gz'}: the signature does not verify with the public key {public_key} "
        "(another key signed it, or the digest was recomputed by someone without the key)"]


def test_a_document_signed_by_another_key_fails_whatever_key_it_names(
        archived: dict[str, Any], signer: LocalSigner, public_key: Path, tmp_path: Path, verify: Verify) -> None:
    forged = copy.deepcopy(archived)
    forged["approval"]["status"] = "rejected"
    forged = seal(forged)
    mallory = LocalSigner(key_id=signer.key_id)  # her own key, claiming to be ours
    value = mallory.sign(document_digest(forged)).value
    forged["signature"] = {**archived["signature"], "digest": document_digest(forged).hex(),
                           "value": base64.b64encode(value).decode()}
    path = write(tmp_path, forged)

    assert verify(path, "--public-key", str(mallory.write_public_key(tmp_path / "mallory.pem")))[0] == 0
    code, _, err = verify(path, "--public-key", str(public_key))
    assert code == 1 and "the signature does not verify" in err


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d.pop("signature"), "no signature"),
    (lambda d: d.pop("seal"), "no seal"),
    (lambda d: d["signature"].update(value="***"), "signature block is malformed"),
    (lambda d: d["signature"].update(algorithm="NONE"), "signature algorithm 'NONE' is not one"),
    (lambda d: d["seal"].update(chain_head="0" * 64), "approval.last_hash is not the chain head"),
    (lambda d: d["events"].pop(), "broken at event #3: events are missing after the last one"),
], ids=["no signature", "no seal", "malformed signature", "unknown algorithm", "other head", "dropped event"])
def test_a_missing_or_bent_seal_or_signature_is_tampering(
        change: Callable[[dict[str, Any]], Any], named: str, archived: dict[str, Any], public_key: Path,
        tmp_path: Path, verify: Verify) -> None:
    change(archived)
    code, _, err = verify(write(tmp_path, archived), "--public-key", str(public_key))
    assert code == 1 and named in err


def test_a_signed_archive_needs_a_key_that_you_name(archived: dict[str, Any], tmp_path: Path,
                                                      verify: Verify) -> None:
    """The key id in the document is not trusted: anyone can sign with a key of their own."""
    code, out, err = verify(write(tmp_path, archived))
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "name the key it must be signed with: --public-key FILE, or --key-id KEY" in err


def test_an_unsigned_archive_passes_only_when_allowed(tmp_path: Path, verify: Verify) -> None:
    """A format 1 archive (as written before signing): only its chain is covered. Rewriting the
    status and re-hashing the chain used to pass as `ok`; it no longer passes by default."""
    events = chain(3)
    document = {"format": 1, "approval": {"id": APPROVAL_ID, "tenant": TENANT, "status": "rejected",
                                          "last_hash": rehash(events)}, "events": events, "steps": []}
    path = write(tmp_path, document)

    code, out, err = verify(path)
    assert (code, out) == (1, "")
    assert "unsigned (format 1, written before archives were signed)" in err and "--allow-unsigned" in err
    code, out, err = verify(path, "--allow-unsigned")
    assert (code, err) == (0, "")
    assert "ok, unsigned (format 1" in out and "status, requester, input and decisions are not covered" in out
    events[0]["actor"] = "mallory"  # the chain still counts
    code, _, err = verify(write(tmp_path, document), "--allow-unsigned")
    assert code == 1 and "broken at event #1" in err


def test_a_signed_archive_rewritten_as_format_1_is_caught(archived: dict[str, Any], public_key: Path,
                                                           tmp_path: Path, verify: Verify) -> None:
    archived["format"] = 1
    code, _, err = verify(write(tmp_path, archived), "--allow-unsigned")
    assert code == 1 and "format 1 archive with a seal or signature" in err
    for block in ("seal", "signature"):
        del archived[block]
    assert verify(write(tmp_path, archived))[0] == 1  # without the blocks: unsigned, refused by default


def _gzip(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


@pytest.mark.parametrize(("blob", "said"), [
    (b"plain text, not gzip", "not a gzip file or truncated"),
    (encode(build_document({"id": "abc"}, chain(3)))[:30], "not a gzip file or truncated"),
    (encode(build_document({"id": "abc"}, chain(3)))[:-6], "not a gzip file or truncated"),
    (_gzip(b"{\"format\": 2, "), "not JSON"),
    (_gzip(b"\xff\xfe\x00"), "not JSON"),
    (_gzip(b"[1, 2]"), "not an approval archive (not a JSON object)"),
    (_gzip(b'{"format": 2, "approval": {}}'), "not an approval archive (no events)"),
    (_gzip(b'{"format": 2, "approval": [], "events": {}}'), "approval must be an object"),
    (_gzip(b'{"format": 9, "approval": {}, "events": []}'), "unknown archive format 9"),
], ids=["not gzip", "truncated header", "truncated body", "bad json", "not utf-8", "array", "no events",
        "wrong shapes", "future format"])
def test_an_unreadable_archive_is_one_line_and_exit_2(blob: bytes, said: str, tmp_path: Path,
                                                       verify: Verify) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(blob)
    code, out, err = verify(str(path))
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [f"{path}: cannot read archive: {err.split('cannot read archive: ')[1].strip()}"]
    assert said in err and "Traceback" not in err


def test_a_missing_file_or_key_file_is_exit_2(archived: dict[str, Any], tmp_path: Path, verify: Verify) -> None:
    code, _, err = verify(str(tmp_path / "nope.json.gz"))
    assert code == 2 and "cannot read archive: No such file or directory" in err
    code, _, err = verify(write(tmp_path, archived), "--public-key", str(tmp_path / "nope.pem"))
    assert code == 2 and "cannot read the public key" in err
    (tmp_path / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\njunk\n-----END PUBLIC KEY-----\n")
    code, _, err = verify(write(tmp_path, archived), "--public-key", str(tmp_path / "junk.pem"))
    assert code == 2 and "not a PEM or DER public key" in err
    code, _, err = verify("s3://bucket-only")
    assert code == 2 and "an S3 source is s3://BUCKET/KEY" in err


# --- the Signer's KMS adapter ------------------------------------------------------------------


def kms_client() -> Any:
    return boto3.client("kms", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def test_the_kms_signer_sends_only_the_digest_for_a_digest_signature() -> None:
    client = kms_client()
    digest = hashlib.sha256(b"document").digest()
    arn = "arn:aws:kms:us-east-1:123456789012:key/k"
    with Stubber(client) as stub:
        stub.add_response("sign", {"KeyId": arn, "Signature": b"sig", "SigningAlgorithm": "ECDSA_SHA_256"},
                          {"KeyId": "alias/archive", "Message": digest, "MessageType": "DIGEST",
                           "SigningAlgorithm": "ECDSA_SHA_256"})
        signature = KmsSigner("alias/archive", client=client).sign(digest)
    assert (signature.value, signature.key_id, signature.algorithm) == (b"sig", arn, "ECDSA_SHA_256")
    with pytest.raises(ValueError, match="a SHA-256 digest has 32 bytes, not 8"):
        KmsSigner("alias/archive", client=client).sign(b"document")
    with pytest.raises(MissingSetting, match="ARCHIVE_SIGNING_KEY is not set"):
        KmsSigner(client=client).sign(digest)
    with pytest.raises(MissingSetting, match="ARCHIVE_SIGNING_KEY is not set"):  # before any client is made
        KmsSigner().sign(digest)


def test_the_kms_verifier_tells_an_invalid_signature_from_a_refusal() -> None:
    client = kms_client()
    digest = hashlib.sha256(b"document").digest()
    with Stubber(client) as stub:
        stub.add_client_error("verify", "KMSInvalidSignatureException")
        stub.add_client_error("verify", "AccessDeniedException")
        assert KmsVerifier("k", client=client).verify(digest, b"sig", "ECDSA_SHA_256") is False
        with pytest.raises(Exception, match="AccessDeniedException"):
            KmsVerifier("k", client=client).verify(digest, b"sig", "ECDSA_SHA_256")


@pytest.fixture
def moto_kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A P-256 signing key in moto, signing digests as KMS does (local.stack.KmsDigestFix)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    from approvals.adapters import aws

    aws.clear()
    with mock_aws():
        KmsDigestFix.install()
        try:
            yield boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        finally:
            KmsDigestFix.uninstall()
            aws.clear()


def test_signed_by_kms_verified_by_kms_and_offline(moto_kms: str, tmp_path: Path, verify: Verify,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rt = Runtime(store=ItemsStore(), sfn=None, events=None, archive=Blobs(), signer=KmsSigner(moto_kms),  # type: ignore[arg-type]
                 now=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC))
    archive_approval(TENANT, APPROVAL_ID, rt=rt)
    path = tmp_path / "a.json.gz"
    path.write_bytes(rt.archive.get(KEY))

    code, out, _ = verify(str(path), "--key-id", moto_kms)
    assert code == 0 and f"signature verified by KMS with {moto_kms}" in out
    assert main(["public-key", "--key-id", moto_kms, "--out", str(tmp_path / "key.pem")]) == 0
    assert (tmp_path / "key.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    code, out, _ = verify(str(path), "--public-key", str(tmp_path / "key.pem"))  # as KMS signs DIGEST
    assert code == 0 and "with the public key" in out

    other = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    code, _, err = verify(str(path), "--key-id", other)
    assert code == 1 and f"the signature does not verify by KMS with {other}" in err
    code, _, err = verify(str(path), "--key-id", "alias/nope")
    assert code == 2 and "KMS cannot check the signature with alias/nope" in err and "Traceback" not in err


# --- S3 ------------------------------------------------------------------------------------------


def test_s3_round_trip_into_a_bucket_with_a_default_retention(archived: dict[str, Any], public_key: Path,
                                                                verify: Verify) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="archive", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket="archive", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}}})
        store = ArchiveStore(bucket="archive", client=s3)
        blob = encode(archived)
        store.put(KEY, blob)  # S3 wants a checksum (or Content-MD5) for a write under a retention
        assert store.get(KEY) == blob
        head = s3.head_object(Bucket="archive", Key=KEY, ChecksumMode="ENABLED")
        assert head["ObjectLockMode"] == "GOVERNANCE" and head["ChecksumSHA256"]

        assert verify(f"s3://archive/{KEY}", "--public-key", str(public_key))[0] == 0
        other = archive_key(TENANT, "leave-request", FINISHED, "xyz")  # a signed archive put over another's
        store.put(other, blob)
        code, _, err = verify(f"s3://archive/{other}", "--public-key", str(public_key))
        assert code == 1 and f"the document belongs under {KEY}, not under this key" in err
        code, _, err = verify("s3://archive/tenant=acme/none.json.gz", "--public-key", str(public_key))
        assert code == 2 and "cannot read archive" in err and "NoSuchKey" in err
