"""`python -m approvals.archive verify FILE|s3://bucket/key`: check an archived approval against
its hash chain (the first broken link is named)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..domain.archive_document import decode, verify_chain


def _load(source: str) -> dict[str, Any]:
    if source.startswith("s3://"):
        from ..adapters.archive_store import ArchiveStore

        bucket, _, key = source[5:].partition("/")
        return decode(ArchiveStore(bucket=bucket).get(key))
    return decode(Path(source).read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m approvals.archive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check an archived approval's hash chain")
    verify.add_argument("source", help="a .json.gz file or s3://bucket/key")
    args = parser.parse_args(argv)
    try:
        document = _load(args.source)
    except (OSError, ValueError) as exc:
        print(f"{args.source}: cannot read archive: {exc}", file=sys.stderr)
        return 2
    approval = document.get("approval") or {}
    broken = verify_chain(document["events"], approval.get("last_hash"))
    if broken is not None:
        print(f"{args.source}: {broken}", file=sys.stderr)
        return 1
    print(f"{args.source}: ok, {len(document['events'])} events, chain intact")
    return 0

