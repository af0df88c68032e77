"""The compiled flows this deployment knows: `<flow>-v<version>.manifest.json` files written by
dsl_compiler next to the state machines (`functions/catalog` links to `statemachines/`; the env
var `FLOW_CATALOG_DIR` points elsewhere). Loaded once per folder; plain Python, no AWS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .contract.manifest import FlowManifestSpec, read_manifest
from .domain import UnknownFlow
from .settings import settings

CATALOG_ENV = "FLOW_CATALOG_DIR"
_lock = threading.Lock()
_loaded: dict[Path, dict[tuple[str, int], FlowEntry]] = {}


def catalog_dir() -> Path:
    configured = settings().flow_catalog_dir
    return configured if configured else Path(__file__).resolve().parent.parent / "catalog"


@dataclass(frozen=True)
class StepInfo:
    """What the runtime needs to know of one step of the compiled flow."""

    id: str
    type: str
    compensate: str | None = None
    # Step ids after this one in the same list (with their nested steps): they run only after it.
    followers: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowEntry:
    """One flow version of the catalog: its manifest (`spec`), read once."""

    spec: FlowManifestSpec

    @property
    def flow(self) -> str:
        return self.spec.flow

    @property
    def version(self) -> int:
        return self.spec.version

    @property
    def title(self) -> str:
        return self.spec.display_title

    @property
    def state_machine(self) -> str:
        return self.spec.name

    @property
    def steps(self) -> tuple[str, ...]:
        return self.spec.step_ids

    @property
    def input_schema(self) -> Mapping[str, Any]:
        return self.spec.input_schema

    @cached_property
    def step_info(self) -> dict[str, StepInfo]:
        followers = self.spec.followers
        return {sid: StepInfo(id=sid, type=step.kind, compensate=self.spec.compensation_of(sid),
                              followers=followers.get(sid, ()))
                for sid, step in self.spec.by_id.items()}

    @property
    def from_input_fields(self) -> tuple[str, ...]:
        return self.spec.from_input_fields


def _load(directory: Path) -> dict[tuple[str, int], FlowEntry]:
    with _lock:
        found = _loaded.get(directory)
        if found is None:
            found = {}
            for path in sorted(directory.glob("*.manifest.json")) if directory.is_dir() else ():
                entry = FlowEntry(read_manifest(json.loads(path.read_text(encoding="utf-8"))))
                found[(entry.flow, entry.version)] = entry
            _loaded[directory] = found
        return found


def reload() -> None:
    """Forget what was loaded (tests that write a catalog of their own)."""
    with _lock:
        _loaded.clear()


def entries() -> Iterator[FlowEntry]:
    yield from sorted(_load(catalog_dir()).values(), key=lambda e: (e.flow, e.version))


def latest_version(flow: str) -> int:
    versions = [e.version for e in entries() if e.flow == flow]
    if not versions:
        raise UnknownFlow(f"no flow {flow!r}")
    return max(versions)


def get(flow: str, version: int | None = None) -> FlowEntry:
    """The flow at `version` (the latest when None); UnknownFlow if the catalog has no such thing."""
    number = latest_version(flow) if version is None else int(version)
    found = _load(catalog_dir()).get((flow, number))
    if found is None:
        raise UnknownFlow(f"no flow {flow!r} version {number}")
    return found


def find(flow: str, version: int) -> FlowEntry | None:
    return _load(catalog_dir()).get((flow, int(version)))


def list_flows() -> list[dict[str, Any]]:
    """The latest version of every flow: `[{"flow", "version", "title"}]`, by name."""
    latest: dict[str, FlowEntry] = {}
    for entry in entries():
        latest[entry.flow] = entry  # sorted by version: the last one wins
    return [{"flow": e.flow, "version": e.version, "title": e.title} for e in latest.values()]
