"""The compiler's contract under fuzz: `python -m bench.compiler_fuzz [--cases 10000] [--seed 1]`.

Each case is a flow text (bench/fuzz_flows.py: mutated example, integration-test and docs flows,
test_fuzz's template with nasty slots, generated flows, mutated generated flows, now and then a
generated flow of hundreds of steps). The compiler must either refuse it, every problem one
`FILE:LINE:COL: error: MESSAGE` line, or compile it to what AWS accepts. The breaks counted, by kind
(the goal is 0 of each):

- traceback: anything but CompileError escaped;
- malformed error line: a report line not of that form, or more lines than errors;
- not strict JSON: the written definition or manifest is not strict UTF-8 JSON;
- statelint refuses / asl-validator refuses (a sample: one node process per 100 machines);
- over 1 MB: the definition as AWS counts it (dsl_compiler.definition.deployed_size);
- name over 80 characters: a state name;
- unreachable state: a state nothing reaches from its StartAt;
- slow: a case that took over 5 s, or 5 s a megabyte of flow text (the compile is linear in the
  text; a flow of a few kB takes milliseconds, one of 1 MB about 3.5 s).

`--keep DIR` writes each break's flow as DIR/<kind>-<n>.yaml, to turn into a test.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statelint.config import Config  # type: ignore[import-untyped]  # no stubs, no py.typed
from statelint.linter import Linter  # type: ignore[import-untyped]

from bench.fuzz_flows import FlowGen, mutate, template
from dsl_compiler import CompileError, compile_text
from dsl_compiler.definition import MAX_DEFINITION_BYTES, MAX_STATE_NAME, deployed_size, state_names, unreachable

ROOT = Path(__file__).resolve().parents[1]
ASL_VALIDATOR = ROOT / "tests" / "tools" / "asl-validator" / "node_modules" / ".bin" / "asl-validator"
REPORT = re.compile(r"^[^\n]+:\d+:\d+: error: [^\n]+$")
KINDS = ("traceback", "malformed error line", "not strict JSON", "statelint refuses", "asl-validator refuses",
         "over 1 MB", "name over 80 characters", "unreachable state", "slow")
SLOW = 5.0  # seconds
HANG = 60.0  # a case still running is stopped (and counted slow) after this long


class _Hang(BaseException):
    """Raised by the alarm in whatever the case runs: not an Exception, so `check` does not take it."""


def _too_long(signum: int, frame: Any) -> None:
    raise _Hang


def _sources() -> list[str]:
    flows = [p for p in (ROOT / "flows").glob("*.yaml") if p.name != "directory.yaml"]
    flows += (ROOT / "tests" / "integration" / "flows").glob("*.yaml")
    return [p.read_text(encoding="utf-8") for p in sorted(flows)]


@dataclass
class Run:
    seed: int
    breaks: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)  # kind -> (case, why, text)
    cases: Counter[str] = field(default_factory=Counter)  # generator -> cases
    accepted: int = 0
    too_big: int = 0  # refused for their size, as they must be
    sampled: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def broke(self, kind: str, case: int, why: str, text: str) -> None:
        self.breaks[kind] += 1
        self.examples.setdefault(kind, []).append((case, why, text))


def cases(r: random.Random, count: int) -> Iterator[tuple[str, str]]:
    """(generator, flow text) pairs, `count` of them."""
    sources, clean, odd = _sources(), FlowGen(r, nasty=0.0), FlowGen(r, nasty=0.1)
    makers: list[tuple[str, float, Callable[[], str]]] = [
        ("mutated example", 0.25, lambda: mutate(r, r.choice(sources))),
        ("template slots", 0.1, lambda: template(r)),
        ("generated", 0.25, clean.text),
        ("generated, odd choices", 0.2, odd.text),
        ("mutated generated", 0.195, lambda: mutate(r, clean.text())),
        ("generated, hundreds of steps", 0.005, lambda: clean.text(big=True)),
    ]
    weights = [w for _, w, _ in makers]
    for _ in range(count):
        name, _, make = r.choices(makers, weights)[0]
        yield name, make()


def _strict(text: str) -> None:
    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")

    json.loads(text, parse_constant=refuse)
    text.encode("utf-8")


def check(run: Run, case: int, text: str, sample_every: int) -> None:
    try:
        compiled = compile_text(text, "fuzz.yaml")
    except CompileError as exc:
        lines = str(exc).split("\n")
        bad = [line for line in lines if not REPORT.match(line)]
        if bad or len(lines) != len(exc.errors):
            run.broke("malformed error line", case, (bad or lines)[0][:200], text)
        run.too_big += any(e.message.startswith("the definition would be ") for e in exc.errors)
        return
    except Exception as exc:  # the contract: nothing else escapes
        run.broke("traceback", case, f"{type(exc).__name__}: {exc}"[:200], text)
        return
    run.accepted += 1
    try:
        for output in (compiled.asl_json(), compiled.manifest_json()):
            _strict(output)
    except ValueError as exc:
        run.broke("not strict JSON", case, str(exc)[:200], text)
    definition = compiled.definition
    problems = [str(p) for p in Linter.validate(json.dumps(definition), Config([], False, False))]
    if problems:
        run.broke("statelint refuses", case, problems[0][:200], text)
    size = deployed_size(definition)
    if size > MAX_DEFINITION_BYTES:
        run.broke("over 1 MB", case, f"{size:,} bytes", text)
    long = [n for n in state_names(definition) if len(n) > MAX_STATE_NAME]
    if long:
        run.broke("name over 80 characters", case, long[0], text)
    lost = unreachable(definition)
    if lost:
        run.broke("unreachable state", case, lost[0], text)
    if run.accepted % sample_every == 0:
        run.sampled.append((case, text, definition))


def asl_validate(run: Run) -> str:
    """Run asl-validator on the sampled machines, 100 per node process; what was done, in words."""
    if not run.sampled:
        return "asl-validator: nothing sampled"
    if not ASL_VALIDATOR.is_file():
        return f"asl-validator: not installed ({ASL_VALIDATOR}; `make test` installs it), skipped"
    with tempfile.TemporaryDirectory() as folder:
        for start in range(0, len(run.sampled), 100):
            batch = run.sampled[start:start + 100]
            paths = []
            for case, _, definition in batch:
                path = Path(folder) / f"case-{case}.asl.json"
                path.write_text(json.dumps(definition), encoding="utf-8")
                paths += ["--json-path", str(path)]
            result = subprocess.run([str(ASL_VALIDATOR), *paths], capture_output=True, text=True, check=False)
            output = result.stdout + result.stderr
            for case, text, _ in batch:
                verdict = re.search(rf'"[^"]*case-{case}\.asl\.json" is (valid|invalid)(:?.*)', output)
                if verdict is None or verdict.group(1) != "valid":
                    why = verdict.group(2).strip(": ") if verdict else "no verdict in asl-validator's output"
                    run.broke("asl-validator refuses", case, why[:200], text)
    return f"asl-validator: {len(run.sampled)} accepted machines sampled"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compiler_fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--asl-sample", type=int, default=20, metavar="N",
                        help="run asl-validator on every N-th accepted flow (default 20)")
    parser.add_argument("--slow-seconds", type=float, default=SLOW, metavar="S",
                        help="a case slower than S seconds a megabyte (at least S) is counted slow")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write each break's flow into DIR")
    args = parser.parse_args(argv)
    run, started = Run(args.seed), time.perf_counter()
    r = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _too_long)
    for case, (generator, text) in enumerate(cases(r, args.cases)):
        run.cases[generator] += 1
        began = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, HANG)
        try:
            check(run, case, text, args.asl_sample)
        except _Hang:
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if (took := time.perf_counter() - began) > args.slow_seconds * max(1.0, len(text) / 1e6):
            run.broke("slow", case, f"{took:.1f} s", text)
    sampled = asl_validate(run)
    seconds = time.perf_counter() - started
    print(f"compiler fuzz: {args.cases} cases (seed {args.seed}) in {seconds:.1f} s; {run.accepted} compiled, "
          f"{args.cases - run.accepted} refused ({run.too_big} of them for being over 1 MB)")
    print("  by generator: " + ", ".join(f"{name} {n}" for name, n in sorted(run.cases.items())))
    print(f"  {sampled}")
    print("contract breaks:")
    for kind in KINDS:
        print(f"  {kind}: {run.breaks[kind]}")
        for case, why, _ in run.examples.get(kind, [])[:3]:
            print(f"    case {case}: {why}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for kind, found in run.examples.items():
            for case, why, text in found:
                path = args.keep / f"{kind.replace(' ', '-')}-{case}.yaml"
                path.write_text(f"# {why}\n{text}", encoding="utf-8", errors="surrogatepass")
    return 1 if sum(run.breaks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
