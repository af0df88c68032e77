"""The soak: the expected runs of the example flows (bench/fault_runs.py) again and again under
random faults, one seed a round, on one in-process stack, counting what was lost, stranded or
doubled (goal: all 0). The suite runs one round of it (tests/integration/test_faults.py).

`python -m bench.soak [--rounds N] [--rate R] [--deaths D] [--seed S]` from the repo root.
`--rate` is the rate of every retryable fault (cancelled transactions; DynamoDB, Step Functions and
EventBridge throttling; partial PutEvents failures; slow answers the SDK sends again; Lambda's
service errors at 0.6 of it);
`--deaths` adds processes dying right after an external effect, inside the functions. The functions'
invocations overlap as on AWS (`--serial`: one at a time, as in the suite)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.fault_runs import Ledger, Tally, drive, tally
from local.lambda_seam import OVERLAP_ENV

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.08)
    parser.add_argument("--deaths", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--serial", action="store_true", help="the functions' invocations one at a time")
    args = parser.parse_args(argv)
    # Invocations overlap here as on AWS (the suite takes turns, for speed: local/lambda_seam.py).
    os.environ[OVERLAP_ENV] = "0" if args.serial else "1"

    from approvals import catalog
    from local import faults
    from local.faults import FaultPlan
    from local.stack import MotoStack

    total, injected = Tally(), Counter[str]()
    with tempfile.TemporaryDirectory() as tmp:
        flows = [str(p) for p in sorted((ROOT / "flows").glob("*.yaml")) if p.name != "directory.yaml"]
        subprocess.run([sys.executable, "-m", "dsl_compiler", "compile", *flows, "--out", tmp],
                       cwd=ROOT, check=True, capture_output=True)
        # Flow time at real time: no test here waits on a timeout, and a 30 s action timeout must
        # not pass while the handlers back off from throttling (as in test_faults.py).
        with contextlib.redirect_stdout(io.StringIO()), MotoStack(
            time_scale=1.0, statemachines_dir=Path(tmp), parameters={"LogLevel": "ERROR"},
            function_env={catalog.CATALOG_ENV: tmp}, faults=FaultPlan(seed=args.seed),
        ) as stack:
            for number in range(args.rounds):
                seed = args.seed + number
                rates = {**dict.fromkeys(faults.RETRYABLE, args.rate), faults.LAMBDA_SERVICE_ERROR: args.rate * 0.6,
                         faults.PROCESS_DEATH: args.deaths}
                plan = FaultPlan.of(seed, rates)
                began = time.monotonic()
                with Ledger().recording() as ledger, faults.using(plan):
                    try:
                        ids = drive(stack)
                    except TimeoutError as stuck:
                        found = Tally()
                        found.add("stranded", str(stuck))
                        ids = []
                if ids:
                    found = tally(stack, ledger, ids)
                injected.update(plan.counts)
                for kind in ("lost", "stranded", "doubled"):
                    setattr(total, kind, getattr(total, kind) + getattr(found, kind))
                total.problems += [f"seed {seed}: {p}" for p in found.problems]
                print(f"round {number + 1} (seed {seed}): {plan.total} faults, lost {found.lost}, stranded "
                      f"{found.stranded}, doubled {found.doubled}, {time.monotonic() - began:.1f} s",
                      file=sys.stderr)
    runs = args.rounds * 5
    print(f"soak: {args.rounds} rounds of 5 expected runs ({runs} approvals), {sum(injected.values())} faults "
          f"injected ({', '.join(f'{k} {v}' for k, v in sorted(injected.items()))})")
    print(f"lost {total.lost}, stranded {total.stranded}, doubled {total.doubled}: {'ok' if total.clean else 'FAIL'}")
    for problem in total.problems:
        print("  " + problem)
    return 0 if total.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
