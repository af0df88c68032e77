"""`python -m approvals.archive verify FILE|s3://bucket/key`: check an archived approval.

A signed archive (format 2) is checked whole: its events against their hash chain (the first
broken link is named), each field against the seal (a changed status, requester, input, decision
or event is named), the document against the digest that was signed, and that digest against
its signature, either offline with the signing key's public key (`--public-key FILE`) or by KMS
Verify with your own credentials (`--key-id KEY`, default ARCHIVE_SIGNING_KEY). The key to trust
is always yours to name, never the one the document names: anyone can sign with a key of their
own. An s3:// source must also sit under the key its content gives (a signed archive copied over
another approval's shows).

An unsigned archive (format 1, written before archives were signed) has only its chain checked,
and passes only with `--allow-unsigned`: a signed archive rewritten as format 1 would otherwise
pass too.

Exit status: 0 intact, 1 broken or tampered (each problem on its own line), 2 the archive or the
key cannot be read (one line).

`python -m approvals.archive public-key [--key-id KEY] [--out FILE]` writes the signing key's
public key as PEM (kms:GetPublicKey), for checking offline later."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..domain.archive_document import UnreadableArchive, decode, inspect
from .signatures import SUPPORTED, UnusableKey, to_pem, verify_digest

OK, BROKEN, UNREADABLE = 0, 1, 2


class CannotCheck(Exception):
    """The archive, or the key to check it with, cannot be had (the message is one line)."""


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def _s3_location(source: str) -> tuple[str, str]:
    bucket, _, key = source[len("s3://"):].partition("/")
    if not bucket or not key:
        raise CannotCheck("an S3 source is s3://BUCKET/KEY")
    return bucket, key


def _load(source: str) -> dict[str, Any]:
    try:
        if source.startswith("s3://"):
            from ..adapters.archive_store import ArchiveStore

            bucket, key = _s3_location(source)
            try:
                blob = ArchiveStore(bucket=bucket).get(key)
            except _aws_errors() as error:
                raise CannotCheck(f"cannot read archive: {error}") from error
        else:
            blob = Path(source).read_bytes()
        return decode(blob)
    except OSError as error:
        raise CannotCheck(f"cannot read archive: {error.strerror or error}") from error
    except UnreadableArchive as error:
        raise CannotCheck(f"cannot read archive: {error}") from error


def _key_id(given: str | None) -> str | None:
    return given or os.environ.get("ARCHIVE_SIGNING_KEY") or None


def _verify_signature(args: argparse.Namespace, digest: bytes, value: bytes, algorithm: str) -> tuple[bool, str]:
    """(valid, how it was checked); CannotCheck when the key cannot be had."""
    if args.public_key is not None:
        try:
            public_key = Path(args.public_key).read_bytes()
            return verify_digest(public_key, digest, value, algorithm), f"with the public key {args.public_key}"
        except OSError as error:
            raise CannotCheck(f"cannot read the public key {args.public_key}: {error.strerror or error}") from error
        except UnusableKey as error:
            raise CannotCheck(f"{args.public_key}: {error}") from error
    key_id = _key_id(args.key_id)
    if key_id is None:
        raise CannotCheck("name the key it must be signed with: --public-key FILE, or --key-id KEY (or "
                          "ARCHIVE_SIGNING_KEY; the stack's output ArchiveSigningKeyArn)")
    from ..adapters.signer import KmsVerifier

    try:
        return KmsVerifier(key_id).verify(digest, value, algorithm), f"by KMS with {key_id}"
    except _aws_errors() as error:
        raise CannotCheck(f"KMS cannot check the signature with {key_id}: {error}") from error


def verify(args: argparse.Namespace) -> int:
    source: str = args.source
    try:
        document = _load(source)
        key = _s3_location(source)[1] if source.startswith("s3://") else None
    except CannotCheck as error:
        print(f"{source}: {error}", file=sys.stderr)
        return UNREADABLE
    found = inspect(document, key)
    problems = list(found.problems)
    verified = ""
    signed = found.signed
    if signed is not None:
        if signed.algorithm not in SUPPORTED:
            problems.append(f"signature algorithm {signed.algorithm!r} is not one archives are signed with")
        else:
            try:
                valid, verified = _verify_signature(args, signed.digest, signed.value, signed.algorithm)
            except CannotCheck as error:
                for problem in problems:  # what the document shows by itself still counts
                    print(f"{source}: {problem}", file=sys.stderr)
                print(f"{source}: {error}", file=sys.stderr)
                return BROKEN if problems else UNREADABLE
            if not valid:
                problems.append(f"the signature does not verify {verified} (another key signed it, or the digest "
                                "was recomputed by someone without the key)")
    if problems:
        for problem in problems:
            print(f"{source}: {problem}", file=sys.stderr)
        return BROKEN
    if signed is None:
        unsigned = (f"unsigned (format {found.format}, written before archives were signed): the hash chain of its "
                    f"{found.events} events is intact, but status, requester, input and decisions are not covered")
        if not args.allow_unsigned:
            print(f"{source}: {unsigned}; --allow-unsigned accepts it", file=sys.stderr)
            return BROKEN
        print(f"{source}: ok, {unsigned}")
        return OK
    print(f"{source}: ok, {found.events} events, chain intact, document as signed by {signed.key_id} "
          f"({signed.algorithm}), signature verified {verified}")
    return OK


def public_key(args: argparse.Namespace) -> int:
    key_id = _key_id(args.key_id)
    if key_id is None:
        print("public-key: name the key: --key-id KEY or ARCHIVE_SIGNING_KEY", file=sys.stderr)
        return UNREADABLE
    from ..adapters.signer import KmsVerifier

    refusals: tuple[type[Exception], ...] = (*_aws_errors(), UnusableKey)
    try:
        pem = to_pem(KmsVerifier(key_id).public_key())
    except refusals as error:
        print(f"public-key: cannot get the public key of {key_id}: {error}", file=sys.stderr)
        return UNREADABLE
    if args.out is None:
        sys.stdout.write(pem.decode("ascii"))
    else:
        Path(args.out).write_bytes(pem)
    return OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m approvals.archive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="check an archived approval: chain, fields, digest, signature")
    check.add_argument("source", help="a .json.gz file or s3://bucket/key")
    trust = check.add_mutually_exclusive_group()
    trust.add_argument("--public-key", metavar="FILE", help="PEM or DER public key of the signing key (offline)")
    trust.add_argument("--key-id", metavar="KEY", help="KMS key (ARN, id or alias/...) that must have signed it; "
                       "KMS Verify with your credentials (default: ARCHIVE_SIGNING_KEY)")
    check.add_argument("--allow-unsigned", action="store_true",
                       help="accept an unsigned format 1 archive whose hash chain is intact")
    export = commands.add_parser("public-key", help="write the signing key's public key as PEM (kms:GetPublicKey)")
    export.add_argument("--key-id", metavar="KEY", help="KMS key (default: ARCHIVE_SIGNING_KEY)")
    export.add_argument("--out", metavar="FILE", help="where to write it (default: standard output)")
    args = parser.parse_args(argv)
    return verify(args) if args.command == "verify" else public_key(args)
