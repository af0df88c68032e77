"""100 approvers deciding at the same moment on `all`, `quorum`, `percent` and `any` steps
(tests/integration/flows/contended-steps.yaml's shape, with 100 people): every decision answered
is recorded, the step settles exactly once (one `Step Settled`, one token completion), none is
left open, and the only refusal is that the step had closed. The deciders are threads on the
in-memory store, whose calls are atomic as DynamoDB's are and interleave between them; the
runtime's sleep does not wait, so lost races come back at once (the worst case for retries).

Before decisions were counted on their stage (store.py, "vote"), every decider raced on the
approval's revision and most were refused with "kept changing"."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from approvals import catalog
from approvals.commands.decide import decide
from approvals.domain import Conflict, StepNotOpen, StepStatus
from approvals.machine.open_step import open_step
from approvals.queries.inbox import inbox
from tests.fakes import MemoryRuntime

from . import machine
from .machine import DIRECTORY, ROOT, TENANT, begin, task_event

HUNDRED = [f"p{i:03d}" for i in range(100)]
FLOW = """\
flow: contended
version: 1
title: Contended
steps:
  - {id: everyone, type: approval, approvers: {role: hundred}, mode: all, timeout: none}
  - {id: half, type: approval, approvers: {role: hundred}, mode: {quorum: 50}, timeout: none}
  - {id: most, type: approval, approvers: {role: hundred}, mode: {percent: 60}, timeout: none}
  - {id: first, type: approval, approvers: {role: hundred}, mode: any, timeout: none}
"""


def _with_flow(rt: MemoryRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str,
               role: str, people: list[str]) -> Iterator[MemoryRuntime]:
    """`rt` with the flow `text` compiled into the catalog and `people` holding `role`."""
    (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "statemachines"
    subprocess.run([sys.executable, "-m", "dsl_compiler", "compile", str(tmp_path / f"{name}.yaml"), "--out",
                    str(out)], cwd=ROOT, check=True, capture_output=True)
    monkeypatch.setenv(catalog.CATALOG_ENV, str(out))
    monkeypatch.setattr(machine, "STATEMACHINES", out)
    machine._asl.cache_clear()
    catalog.reload()
    users = [{"id": p, "department": "eng", "manager": "bob", "roles": [role]} for p in people]
    rt.store.put_directory(TENANT, {**DIRECTORY, "users": [*DIRECTORY["users"], *users]})
    yield rt
    machine._asl.cache_clear()
    monkeypatch.undo()
    catalog.reload()


@pytest.fixture
def contended(rt: MemoryRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryRuntime]:
    yield from _with_flow(rt, tmp_path, monkeypatch, "contended", FLOW, "hundred", HUNDRED)


def together(rt: MemoryRuntime, approval_id: str, step: str) -> dict[str, str]:
    """Every one of HUNDRED approves `step` at once: user -> "ok" or the refusal."""
    start = threading.Barrier(len(HUNDRED))

    def one(user: str) -> tuple[str, str]:
        start.wait()
        try:
            decide(TENANT, approval_id, step, user, "approve", rt=rt)
        except Conflict as refused:
            return user, f"{type(refused).__name__}: {refused}"
        return user, "ok"

    with ThreadPoolExecutor(max_workers=len(HUNDRED)) as pool:
        return dict(pool.map(one, HUNDRED))


@pytest.mark.parametrize("rounds", [0, 1, 2])  # three interleavings of the same run
def test_a_hundred_at_once_every_answer_holds_and_each_step_settles_once(contended: MemoryRuntime, rounds: int) -> None:
    rt = contended
    run = begin(rt, "contended", "ann", {})
    name = run.start
    for step, needed in (("everyone", 100), ("half", 50), ("most", 60), ("first", 1)):
        token = run.open(name)
        answers = together(rt, run.id, step)
        accepted = sorted(u for u, a in answers.items() if a == "ok")
        refused = {a for a in answers.values() if a != "ok"}
        stage = next(s for s in rt.store.load(TENANT, run.id).steps if s.step == step)
        assert stage.status is StepStatus.APPROVED
        assert len(accepted) == needed, (step, len(accepted), refused)
        assert sorted(d.user for d in stage.decisions) == accepted  # every answer recorded, nothing else
        assert all(a.startswith(StepNotOpen.__name__) for a in refused), refused  # only: the step had closed
        assert len(rt.sfn.completions_of(token)) == 1  # the token completed once
        settled = [e for e in rt.store.history(TENANT, run.id)
                   if e["type"] == "Step Settled" and e["data"]["step"] == step]
        assert len(settled) == 1 and sorted(u for u, *_ in settled[0]["data"]["decisions"]) == accepted
        told = [d for t, d in rt.events.events if t == "Decision Recorded" and d["step"] == step]
        assert len(told) == needed and len({d["event_id"] for d in told}) == needed  # one event each
        name = run.resume(name, token)
    assert [s.status for s in rt.store.load(TENANT, run.id).steps] == [StepStatus.APPROVED] * 4  # none left open


WIDE = """\
flow: wide
version: 1
title: Wide
steps:
  - {id: crowd, type: approval, approvers: {role: crowd}, mode: {quorum: 2}, timeout: none}
"""
CROWD = [f"c{i:04d}" for i in range(1000)]


@pytest.fixture
def wide(rt: MemoryRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryRuntime]:
    yield from _with_flow(rt, tmp_path, monkeypatch, "wide", WIDE, "crowd", CROWD)


def test_a_step_of_a_thousand_opens_settles_and_a_retried_open_restores_its_inbox(wide: MemoryRuntime) -> None:
    rt = wide
    run = begin(rt, "wide", "ann", {})
    name = run.start
    payload = {**run.payload(name, rt.sfn.wait_on(run.new_token(name))), "entered_at": "2026-12-01T09:00:00.500Z"}
    rt.store.die_before_inbox = True  # the invoke dies after its commit (each transaction holds ≤ 100 items)
    with pytest.raises(RuntimeError):
        open_step(task_event(open_step, payload), rt=rt)
    assert len(inbox(TENANT, "c0999", rt=rt)) == 0
    retried = {**payload, "task_token": rt.sfn.wait_on(run.new_token(name))}  # Step Functions' retry: a new token
    open_step(task_event(open_step, retried), rt=rt)
    assert all(len(inbox(TENANT, u, rt=rt)) == 1 for u in ("c0000", "c0500", "c0999"))
    (stage,) = rt.store.load(TENANT, run.id).steps
    assert len(stage.assignees) == 1000 and stage.task_token == retried["task_token"]
    decide(TENANT, run.id, "crowd", "c0001", "approve", rt=rt)
    decide(TENANT, run.id, "crowd", "c0002", "approve", rt=rt)
    (stage,) = rt.store.load(TENANT, run.id).steps
    assert stage.status is StepStatus.APPROVED and len(rt.sfn.completions_of(retried["task_token"])) == 1
    assert all(inbox(TENANT, u, rt=rt) == [] for u in ("c0000", "c0500", "c0999"))
