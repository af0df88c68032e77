"""bench/compiler_fuzz.py, small: it runs clean, and it counts each kind of break it is meant to."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bench import compiler_fuzz
from bench.fuzz_flows import FlowGen
from dsl_compiler import CompileError, compile_text
from dsl_compiler.errors import DslError, Location
from tests.unit.compiler.machines import EDGE


def test_a_short_run_finds_no_break(capsys: pytest.CaptureFixture[str]) -> None:
    # Not a timing test: only a case that hangs (HANG) would count as slow here; `make bench` times them.
    argv = ["--cases", "60", "--seed", "3", "--asl-sample", "5", "--slow-seconds", str(compiler_fuzz.HANG)]
    assert compiler_fuzz.main(argv) == 0
    out = capsys.readouterr().out
    assert "compiler fuzz: 60 cases (seed 3)" in out
    assert all(f"  {kind}: 0" in out for kind in compiler_fuzz.KINDS)


def test_generated_flows_mostly_compile() -> None:
    gen = FlowGen(random.Random(5), nasty=0.0)
    compiled = 0
    for _ in range(40):
        try:
            compile_text(gen.text())
            compiled += 1
        except CompileError:
            pass
    assert compiled >= 25  # else the checks on accepted flows check little


def broken(monkeypatch: pytest.MonkeyPatch, result: Any) -> compiler_fuzz.Run:
    def fake(text: str, file: str) -> Any:
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(compiler_fuzz, "compile_text", fake)
    run = compiler_fuzz.Run(seed=0)
    compiler_fuzz.check(run, 0, "flow: x", sample_every=1)
    return run


def test_each_kind_of_break_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert broken(monkeypatch, KeyError("x")).breaks == {"traceback": 1}
    two_lines = CompileError([DslError(Location("f", 1, 1), "a"), DslError(Location("f", 2, 1), "b")])
    two_lines.args = ("f:1:1: error: a\nnot a report line",)
    assert broken(monkeypatch, two_lines).breaks == {"malformed error line": 1}
    compiled = compile_text(EDGE["only-a-wait"])
    compiled.definition["States"]["Stray " + "x" * 80] = {"Type": "Pass", "Next": "Nowhere"}
    run = broken(monkeypatch, compiled)
    assert run.breaks == {"statelint refuses": 1, "name over 80 characters": 1, "unreachable state": 1}
    assert len(run.sampled) == 1
