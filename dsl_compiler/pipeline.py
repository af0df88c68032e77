"""The stages in order: load -> validate (model + conditions) -> IR -> emit -> manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ir as ir_stage
from .definition import MAX_DEFINITION_BYTES, deployed_size, emitter_bugs
from .emit import emit
from .errors import CompileError, DslError, ErrorSink, Location
from .loader import load
from .manifest import build_manifest
from .validate import ValidatedFlow, validate


@dataclass(frozen=True)
class CompiledFlow:
    """The compiled definition of one flow version."""

    ir: ir_stage.FlowIR
    definition: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def asl_file(self) -> str:
        return f"{self.name}.asl.json"

    @property
    def manifest_file(self) -> str:
        return f"{self.name}.manifest.json"

    # Strict JSON (allow_nan=False): AWS refuses NaN and Infinity. The loader refuses them first.
    def asl_json(self) -> str:
        return json.dumps(self.definition, indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def manifest_json(self) -> str:
        return json.dumps(self.manifest, indent=2, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def read(path: str | Path, sink: ErrorSink) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        sink.add(Location(str(path), 1, 1), f"cannot read file: {reason}")
        return None


def check_text(text: str, file: str, sink: ErrorSink) -> ValidatedFlow | None:
    root = load(text, file, sink)
    if root is None:
        return None
    return validate(root, file, sink)


def compile_text(text: str, file: str = "<flow>") -> CompiledFlow:
    sink = ErrorSink()
    compiled = _compile(text, file, sink)
    if compiled is None:
        raise CompileError(sink.sorted())
    return compiled


def _compile(text: str, file: str, sink: ErrorSink) -> CompiledFlow | None:
    """The compiled flow, or None with every problem in `sink`, those only compiling shows included."""
    flow = check_text(text, file, sink)
    if flow is None or sink:
        return None
    compiled = _compile_validated(flow, text)
    try:  # the last guard: what is written must be strict, UTF-8-encodable JSON
        for output in (compiled.asl_json(), compiled.manifest_json()):
            output.encode("utf-8")
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
        sink.add(Location(file, 1, 1), f"the compiled output is not valid JSON: {exc}")
        return None
    # Never ship a machine AWS would refuse, even when the compiler is wrong.
    for bug in emitter_bugs(compiled.definition):
        sink.add(Location(file, 1, 1), f"internal error, please report this flow: {bug}")
    size = deployed_size(compiled.definition)
    if size > MAX_DEFINITION_BYTES:
        sink.add(flow.steps_at or Location(file, 1, 1), f"the definition would be {size:,} bytes, over AWS's 1 MB "
                 f"({MAX_DEFINITION_BYTES:,} bytes with each function ARN at its longest): use fewer steps, or split "
                 "the flow")
    return None if sink else compiled


def compile_file(path: str | Path) -> CompiledFlow:
    sink = ErrorSink()
    text = read(path, sink)
    if text is None:
        raise CompileError(sink.sorted())
    return compile_text(text, str(path))


def _compile_validated(flow: ValidatedFlow, source: str) -> CompiledFlow:
    flow_ir = ir_stage.build(flow)
    emitted = emit(flow_ir)
    manifest = build_manifest(flow_ir, emitted, f"{flow_ir.name}.asl.json", source)
    return CompiledFlow(flow_ir, emitted.definition, manifest)


def validate_files(paths: list[str]) -> list[DslError]:
    """Every problem of every file, in file order then position (a valid flow is compiled too: its
    size is known only then)."""
    problems: list[DslError] = []
    for path in paths:
        sink = ErrorSink()
        text = read(path, sink)
        if text is not None:
            _compile(text, path, sink)
        problems.extend(sink.sorted())
    return problems
