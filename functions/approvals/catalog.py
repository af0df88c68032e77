"""The compiled flows this deployment knows: `<flow>-v<version>.manifest.json` files written by
dsl_compiler next to the state machines (`functions/catalog` links to `statemachines/`; the env
var `FLOW_CATALOG_DIR` points elsewhere). Loaded once per folder; plain Python, no AWS."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from .domain import UnknownFlow

CATALOG_ENV = "FLOW_CATALOG_DIR"
_lock = threading.Lock()
_loaded: dict[Path, dict[tuple[str, int], FlowEntry]] = {}


def catalog_dir() -> Path:
    configured = os.environ.get(CATALOG_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "catalog"


@dataclass(frozen=True)
class StepInfo:
    """What the runtime needs to know of one step of the flow source."""

    id: str
    type: str
    compensate: str | None = None
    # Step ids after this one in the same list (with their nested steps): they run only after it.
    followers: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowEntry:
    flow: str
    version: int
    title: str
    state_machine: str
    steps: tuple[str, ...]
    input_schema: Mapping[str, Any]
    source: str = ""
    manifest: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def doc(self) -> Mapping[str, Any]:
        """The flow's YAML source, parsed (an empty mapping if the manifest carries none)."""
        if not self.source:
            return {}
        parsed = yaml.safe_load(self.source)
        return parsed if isinstance(parsed, Mapping) else {}

    @cached_property
    def step_info(self) -> dict[str, StepInfo]:
        found: dict[str, StepInfo] = {}
        _walk_steps(self.doc.get("steps") or [], found)
        return found

    @cached_property
    def from_input_fields(self) -> tuple[str, ...]:
        """Input fields that name approvers (`{from_input: field}` anywhere in the flow)."""
        names: list[str] = []
        _find_from_input(self.doc, names)
        return tuple(dict.fromkeys(names))


def _ids(steps: Sequence[Any]) -> list[str]:
    out: list[str] = []
    for step in steps:
        if not isinstance(step, Mapping):
            continue
        if step.get("id"):
            out.append(str(step["id"]))
        for nested in _nested_lists(step):
            out += _ids(nested)
    return out


def _nested_lists(step: Mapping[str, Any]) -> list[Sequence[Any]]:
    lists: list[Sequence[Any]] = [b for b in step.get("branches") or [] if isinstance(b, list)]
    lists += [c.get("steps") or [] for c in step.get("cases") or [] if isinstance(c, Mapping)]
    if isinstance(step.get("default"), list):
        lists.append(step["default"])
    return lists


def _walk_steps(steps: Sequence[Any], found: dict[str, StepInfo]) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or not step.get("id"):
            continue
        compensate = step.get("compensate")
        found[str(step["id"])] = StepInfo(
            id=str(step["id"]), type=str(step.get("type", "")),
            compensate=str(compensate) if compensate else None, followers=tuple(_ids(steps[index + 1:])),
        )
        for nested in _nested_lists(step):
            _walk_steps(nested, found)


def _find_from_input(node: Any, names: list[str]) -> None:
    if isinstance(node, Mapping):
        if "from_input" in node and isinstance(node["from_input"], str):
            names.append(node["from_input"])
        for value in node.values():
            _find_from_input(value, names)
    elif isinstance(node, list):
        for item in node:
            _find_from_input(item, names)


def _entry(manifest: Mapping[str, Any]) -> FlowEntry:
    return FlowEntry(
        flow=str(manifest["flow"]), version=int(manifest["version"]),
        title=str(manifest.get("title") or manifest["flow"]),
        state_machine=str(manifest.get("state_machine") or f"{manifest['flow']}-v{manifest['version']}"),
        steps=tuple(str(s) for s in manifest.get("steps") or ()),
        input_schema=manifest.get("input_schema") or {}, source=str(manifest.get("source") or ""),
        manifest=manifest,
    )


def _load(directory: Path) -> dict[tuple[str, int], FlowEntry]:
    with _lock:
        found = _loaded.get(directory)
        if found is None:
            found = {}
            for path in sorted(directory.glob("*.manifest.json")) if directory.is_dir() else ():
                entry = _entry(json.loads(path.read_text(encoding="utf-8")))
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
