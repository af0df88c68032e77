"""Does the local stack's memory stay flat as approvals finish? (docs/performance.md)

`python -m bench.memory [--first 50] [--total 500] [--server] [--trace]` from the repo root. Starts the
local stack (in-process moto by default, `--server` as `make serve` runs it), drives leave requests
to the end (ann asks for a day off, bob approves, then ivy for HR), and reads the process's resident
set size (RSS) after `--first` finished approvals and again after `--total`. The check: RSS after
the total is within 1.5x of RSS after the first ones (exit 1 if not). Warm-up (imports, the
deployment, the first machine runs) is in both figures, so growth per approval shows as the ratio.

`--trace` also takes tracemalloc snapshots at both points and prints where the allocations that
grew in between were made (slower: tracemalloc records every allocation). `--unpatched` leaves out
local/moto_transactions.py and local/moto_tracking.py, for the figures of moto as pinned.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from unittest import mock

GOAL_RATIO = 1.5
PLAN = {"manager": "bob", "hr": "ivy"}
INPUT = {"days": 1, "start_date": "2027-03-01", "reason": "bench"}
BATCH = 5  # approvals in flight at once: the interpreter's threads overlap, as with several users
# Fast enough that a run is a second or so, slow enough that no timeout (manager: 3d, 72 min here) interferes.
TIME_SCALE = 60


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def finish(stack: Any, count: int) -> None:
    """`count` leave requests driven to SUCCEEDED, BATCH at a time."""
    # The handlers print a metrics line (EMF) per step to stdout; not this command's output.
    with contextlib.redirect_stdout(_Discard()):
        _finish(stack, count)


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _finish(stack: Any, count: int) -> None:
    done = 0
    while done < count:
        batch = [stack.start_approval("leave-request", "ann", INPUT) for _ in range(min(BATCH, count - done))]
        for approval_id in batch:
            status, _, _ = stack.drive(approval_id, PLAN, timeout=60.0)
            if status != "SUCCEEDED":
                raise AssertionError(f"{approval_id} ended {status}")
        done += len(batch)


def settled_rss() -> float:
    gc.collect()
    return rss_mb()


def measure(first: int, total: int, *, server: bool = False, trace: bool = False, unpatched: bool = False,
            progress: Callable[[str], None] | None = None) -> tuple[float, float]:
    """(RSS in MiB after `first` finished approvals, after `total`)."""
    from local import moto_tracking, moto_transactions

    say = progress or (lambda line: print(line, flush=True))
    with contextlib.ExitStack() as patches:
        if unpatched:  # moto as pinned, for the figures before the fix
            for module in (moto_tracking, moto_transactions):
                patches.enter_context(mock.patch.object(module, "install", lambda: None))
        return _measure(first, total, server, trace, say)


def _measure(first: int, total: int, server: bool, trace: bool, say: Callable[[str], None]) -> tuple[float, float]:
    from local.stack import MotoStack

    with MotoStack(time_scale=TIME_SCALE, server=server, parameters={"LogLevel": "WARNING"}) as stack:
        if trace:
            tracemalloc.start(12)
        started = time.monotonic()
        finish(stack, first)
        at_first = settled_rss()
        say(f"{first} approvals: RSS {at_first:.0f} MiB ({time.monotonic() - started:.0f} s)")
        before = tracemalloc.take_snapshot() if trace else None
        finish(stack, total - first)
        at_total = settled_rss()
        say(f"{total} approvals: RSS {at_total:.0f} MiB ({time.monotonic() - started:.0f} s)")
        if before is not None:
            after = tracemalloc.take_snapshot()
            for stat in after.compare_to(before, "traceback")[:8]:
                say(f"+{stat.size_diff / 2**20:.1f} MiB in {stat.count_diff:+d} blocks:")
                for line in stat.traceback.format()[-12:]:
                    say(f"    {line}")
    return at_first, at_total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--total", type=int, default=500)
    parser.add_argument("--server", action="store_true", help="moto as a server, as `make serve` runs it")
    parser.add_argument("--trace", action="store_true", help="tracemalloc: where the growth was allocated")
    parser.add_argument("--unpatched", action="store_true",
                        help="without local/moto_transactions.py and local/moto_tracking.py: moto as pinned")
    args = parser.parse_args(argv)
    at_first, at_total = measure(args.first, args.total, server=args.server, trace=args.trace,
                                 unpatched=args.unpatched)
    ratio = at_total / at_first
    verdict = "ok" if ratio <= GOAL_RATIO else f"FAIL (goal {GOAL_RATIO}x)"
    print(f"RSS after {args.first} approvals {at_first:.0f} MiB, after {args.total} {at_total:.0f} MiB: "
          f"{ratio:.2f}x, {verdict}")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
