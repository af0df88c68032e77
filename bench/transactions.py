"""One TransactWriteItems on a table of 10,000 items against one on 100 items (docs/performance.md).

`python -m bench.transactions [--rounds N]` from the repo root. In-process moto with
local/moto_transactions.py installed, two tables of the product's key shape (pk, sk, a GSI) side by
side, one of 100 items and one of 10,000. Each round times one transaction on each, in alternating
order (Put of a new item, Update of an existing one, Delete, ConditionCheck, as a decision writes),
so the machine's drift falls on both sides alike. The check: the median on 10,000 is within 1.2x of
the median on 100 (exit 1 if not). The same rounds with moto's own method follow, for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

GOAL_RATIO = 1.2
SIZES = (100, 10_000)


def create_table(ddb: Any, name: str, items: Iterable[dict[str, Any]]) -> None:
    """A table of the product's key shape (pk, sk, one index on `g`) holding `items` (DynamoDB JSON)."""
    from moto.dynamodb.models import dynamodb_backends

    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}],
    )
    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(name)
    for item in items:  # straight into moto's table: thousands of PutItem calls would take a while
        table.put_item(item)


def _items(count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"pk": {"S": f"approval#{i // 20}"}, "sk": {"S": f"stage#{i % 20:02d}"},
               "g": {"S": f"inbox#{i % 50}"}, "revision": {"N": "1"}, "body": {"S": "x" * 200}}


def _transaction(name: str, n: int) -> list[dict[str, Any]]:
    """Round n's writes: a new item, an update and a delete of items that exist, a condition check."""
    key = {"pk": {"S": "approval#1"}, "sk": {"S": "stage#03"}}
    return [
        {"Put": {"TableName": name, "Item": {"pk": {"S": f"new#{n}"}, "sk": {"S": "meta"}, "revision": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": name, "Key": key, "UpdateExpression": "SET revision = revision + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": name, "Key": {"pk": {"S": f"approval#{2 + n}"}, "sk": {"S": "stage#00"}}}},
        {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "approval#0"}, "sk": {"S": "stage#00"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ]


def measure(rounds: int, *, patched: bool = True) -> dict[int, list[float]]:
    """Seconds per transaction, by table size, over interleaved rounds."""
    import boto3
    from moto import mock_aws

    from local import moto_transactions

    if patched:
        moto_transactions.install()
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            for size in SIZES:
                create_table(ddb, f"t{size}", _items(size))
            times: dict[int, list[float]] = {size: [] for size in SIZES}
            for n in range(rounds + 1):
                for size in SIZES if n % 2 else reversed(SIZES):
                    started = time.perf_counter()
                    ddb.transact_write_items(TransactItems=_transaction(f"t{size}", n))
                    if n:  # round 0 warms both up (botocore's models, moto's parsers)
                        times[size].append(time.perf_counter() - started)
            return times
    finally:
        moto_transactions.uninstall()


def report(label: str, times: dict[int, list[float]]) -> float:
    small, large = SIZES
    ratio = statistics.median(times[large]) / statistics.median(times[small])
    print(f"{label}: {large:,} items vs {small:,}: median {ratio:.2f}x, "
          f"min {min(times[large]) / min(times[small]):.2f}x over {len(times[small])} interleaved rounds")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transactions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--moto-rounds", type=int, default=5, help="rounds of moto's own method (slow: 0 skips)")
    args = parser.parse_args(argv)
    ratio = report("local/moto_transactions.py", measure(args.rounds))
    if args.moto_rounds:
        report("moto's own", measure(args.moto_rounds, patched=False))
    verdict = "ok" if ratio <= GOAL_RATIO else f"FAIL (goal {GOAL_RATIO}x)"
    print(f"one transaction on {SIZES[1]:,} items: {ratio:.2f}x the time on {SIZES[0]:,}, {verdict}")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
