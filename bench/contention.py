"""Contention: 100 approvers deciding at the same moment, on `all`, `quorum`, `percent` and `any`
steps, on the local stack (moto; the use cases called on threads, so their DynamoDB calls
interleave as concurrent functions' would), against the same decisions made one after another.

`python -m bench.contention [--rounds N] [--approvers N] [--json]` from the repo root. Each round
starts two approvals of one flow (steps: all, quorum 50%, percent 60, any of the same people); step
by step, one gets its decisions all at once, the other one after another, in alternating order
from round to round. Printed per mode: the contended wall time, the sequential one, their ratio
(min and median over the rounds; goal: at most GOAL_RATIO), and the counts that must be 0: lost
(a decision answered but not recorded), doubled (a step settled or a token completed twice, or a
decision recorded twice), stranded (a step left open, or an answer other than "step not open")."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 5.0
TENANT = "bench"
MODES = (("everyone", "all"), ("half", "quorum"), ("most", "percent"), ("first", "any"))


def flow_text(approvers: int) -> str:
    quorum = max(1, approvers // 2)
    return f"""\
flow: contention-bench
version: 1
title: Contention bench
steps:
  - {{id: everyone, type: approval, approvers: {{role: deciders}}, mode: all, timeout: none}}
  - {{id: half, type: approval, approvers: {{role: deciders}}, mode: {{quorum: {quorum}}}, timeout: none}}
  - {{id: most, type: approval, approvers: {{role: deciders}}, mode: {{percent: 60}}, timeout: none}}
  - {{id: first, type: approval, approvers: {{role: deciders}}, mode: any, timeout: none}}
"""


@dataclass
class ModeResult:
    mode: str
    contended_s: list[float] = field(default_factory=list)
    sequential_s: list[float] = field(default_factory=list)
    lost: int = 0
    doubled: int = 0
    stranded: int = 0

    @property
    def ratios(self) -> list[float]:
        return [c / s for c, s in zip(self.contended_s, self.sequential_s, strict=True) if s > 0]

    @property
    def holds(self) -> bool:
        return (bool(self.ratios) and statistics.median(self.ratios) <= GOAL_RATIO
                and self.lost == self.doubled == self.stranded == 0)


@contextmanager
def local_stack(approvers: int) -> Iterator[Any]:
    from approvals import catalog
    from local.stack import MotoStack

    with tempfile.TemporaryDirectory() as tmp:
        flow = Path(tmp) / "contention-bench.yaml"
        flow.write_text(flow_text(approvers), encoding="utf-8")
        out = Path(tmp) / "statemachines"
        flows = [str(p) for p in sorted((ROOT / "flows").glob("*.yaml")) if p.name != "directory.yaml"]
        subprocess.run([sys.executable, "-m", "dsl_compiler", "compile", *flows, str(flow), "--out", str(out)],
                       cwd=ROOT, check=True, capture_output=True)
        os.environ[catalog.CATALOG_ENV] = str(out)  # the use cases run here, and know the bench's flow
        with MotoStack(statemachines_dir=out, parameters={"LogLevel": "ERROR"},
                       function_env={catalog.CATALOG_ENV: str(out)}) as stack:
            people = [f"d{i:03d}" for i in range(approvers)]
            stack.store.put_directory(TENANT, {
                "tenant": TENANT, "departments": [{"id": "ops", "head": "req"}],
                "users": [{"id": "req", "department": "ops", "manager": None, "roles": []}]
                + [{"id": p, "department": "ops", "manager": "req", "roles": ["deciders"]} for p in people]})
            yield stack


def _wait(check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(what)


def _open_stage(stack: Any, approval_id: str, step: str) -> Any:
    from approvals.domain import StepStatus

    def check() -> Any:
        return next((s for s in stack.store.load(TENANT, approval_id).steps
                     if s.step == step and s.status is StepStatus.OPEN), None)
    return _wait(check, f"{approval_id}: {step} to open")


def _decide_all(stack: Any, approval_id: str, step: str, people: list[str],
                together: bool) -> tuple[float, dict[str, str]]:
    from approvals.commands.decide import decide
    from approvals.domain import Conflict

    start = threading.Barrier(len(people)) if together else None

    def one(user: str) -> tuple[str, str]:
        if start is not None:
            start.wait()
        try:
            decide(TENANT, approval_id, step, user, "approve", rt=stack.rt)
        except Conflict as refused:
            return user, f"{type(refused).__name__}: {refused}"
        return user, "ok"

    began = time.perf_counter()
    if together:
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            answers = dict(pool.map(one, people))
    else:
        answers = dict(one(u) for u in people)
    return time.perf_counter() - began, answers


def _count(stack: Any, approval_id: str, step: str, answers: dict[str, str], result: ModeResult) -> None:
    from approvals.domain import StepStatus

    stage = _wait(lambda: next((s for s in stack.store.load(TENANT, approval_id).steps
                                if s.step == step and s.status is not StepStatus.OPEN), None),
                  f"{approval_id}: {step} to settle", timeout=30)
    recorded = [d.user for d in stage.decisions]
    accepted = {u for u, a in answers.items() if a == "ok"}
    result.lost += len(accepted - set(recorded))
    result.doubled += len(recorded) - len(set(recorded)) + len(set(recorded) - accepted)
    settled = [e for e in stack.audit(approval_id, TENANT) if e["type"] == "Step Settled" and e["data"]["step"] == step]
    result.doubled += max(0, len(settled) - 1)
    result.stranded += int(stage.status is StepStatus.OPEN) + sum(
        1 for a in answers.values() if a != "ok" and "is not open" not in a)


def run(rounds: int, approvers: int) -> list[ModeResult]:
    from approvals.commands.start import start_approval

    results = {step: ModeResult(mode) for step, mode in MODES}
    people = [f"d{i:03d}" for i in range(approvers)]
    with local_stack(approvers) as stack:
        for number in range(rounds):
            ids = [start_approval(TENANT, "contention-bench", None, "req", {}, rt=stack.rt) for _ in range(2)]
            for step, _ in MODES:
                # Alternate which goes first, so drift in the machine's load falls on both.
                order = [(ids[0], True), (ids[1], False)] if number % 2 == 0 else [(ids[1], False), (ids[0], True)]
                for approval_id, together in order:
                    _open_stage(stack, approval_id, step)
                    took, answers = _decide_all(stack, approval_id, step, people, together)
                    (results[step].contended_s if together else results[step].sequential_s).append(took)
                    _count(stack, approval_id, step, answers, results[step])
    return list(results.values())


def report(results: list[ModeResult]) -> str:
    lines = [f"{'contention (' + 'decisions at once vs one after another)':<58}",
             f"{'mode':<9} {'at once min/med s':>18} {'in turn min/med s':>18} {'ratio med':>10} {'goal':>6} "
             f"{'lost':>5} {'doubled':>8} {'stranded':>9}  holds"]
    for r in results:
        lines.append(f"{r.mode:<9} {min(r.contended_s):>8.2f}/{statistics.median(r.contended_s):<9.2f} "
                     f"{min(r.sequential_s):>8.2f}/{statistics.median(r.sequential_s):<9.2f} "
                     f"{statistics.median(r.ratios):>10.2f} {'≤' + format(GOAL_RATIO, 'g'):>6} "
                     f"{r.lost:>5} {r.doubled:>8} {r.stranded:>9}  {'yes' if r.holds else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--approvers", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' metrics (EMF lines), not the report
        results = run(args.rounds, args.approvers)
    if args.json:
        print(json.dumps([{**asdict(r), "ratios": r.ratios, "holds": r.holds} for r in results], indent=2))
    else:
        print(report(results))
    return 0 if all(r.holds for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
