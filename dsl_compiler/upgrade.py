"""`upgrade`: a manifest written in an older format, rewritten in the current one from the flow
source it carries. Its `definition` is left as it is: that machine is deployed already, and the
manifest only has to describe it to the functions (approvals.contract.manifest)."""

from __future__ import annotations

import json
from pathlib import Path

from approvals.contract.manifest import MANIFEST_FORMAT

from .errors import CompileError, DslError, Location
from .pipeline import compile_text


def upgraded(path: Path) -> str | None:
    """The manifest at `path` in the current format, or None when it is in it already."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompileError([DslError(Location(str(path), 1, 1), f"cannot read manifest: {exc}")]) from exc
    if not isinstance(data, dict):
        raise CompileError([DslError(Location(str(path), 1, 1), "not a manifest (a JSON object is expected)")])
    if data.get("format", 1) == MANIFEST_FORMAT:
        return None
    source = data.get("source")
    if not isinstance(source, str) or not source:
        raise CompileError([DslError(Location(str(path), 1, 1), "carries no flow source: compile its flow again")])
    compiled = compile_text(source, f"{path}#source")
    if compiled.name != data.get("state_machine"):
        message = f"its source compiles to {compiled.name}, not {data.get('state_machine')}"
        raise CompileError([DslError(Location(str(path), 1, 1), message)])
    manifest = {**compiled.manifest, "definition": data.get("definition", compiled.asl_file)}
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def upgrade(paths: list[Path], check: bool) -> list[Path]:
    """Rewrite (or, with `check`, only name) the manifests that are in an older format."""
    stale = []
    for path in paths:
        text = upgraded(path)
        if text is None:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
    return stale
