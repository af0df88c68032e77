"""`python -m dsl_compiler compile|validate|graph|preview` (see api.md, "Command line")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import CompileError, DslError, Location
from .graph import mermaid
from .pipeline import CompiledFlow, compile_file, validate_files
from .preview import preview


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dsl_compiler",
        description="Compile approval flows (YAML DSL) into AWS Step Functions state machines.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compile_cmd = commands.add_parser(
        "compile", help="write DIR/<flow>-v<version>.asl.json and its manifest for each flow"
    )
    compile_cmd.add_argument("flows", nargs="+", metavar="FLOW.yaml")
    compile_cmd.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    validate_cmd = commands.add_parser("validate", help="check flows; print every problem as FILE:LINE:COL")
    validate_cmd.add_argument("flows", nargs="+", metavar="FLOW.yaml")
    graph_cmd = commands.add_parser("graph", help="print a Mermaid flowchart of a flow")
    graph_cmd.add_argument("flow", metavar="FLOW.yaml")
    preview_cmd = commands.add_parser("preview", help="print which steps an input would run (JSON)")
    preview_cmd.add_argument("flow", metavar="FLOW.yaml")
    preview_cmd.add_argument("--input", default="{}", metavar="JSON", help="the request input as JSON")
    preview_cmd.add_argument("--requester", default="", help="the requester's user id")
    return parser


def _report(errors: list[DslError]) -> int:
    for error in errors:
        print(error, file=sys.stderr)
    return 1


def _compile_all(paths: list[str]) -> list[CompiledFlow]:
    problems = validate_files(paths)
    if problems:
        raise CompileError(problems)
    compiled = [compile_file(p) for p in paths]
    seen: dict[str, str] = {}
    duplicates = []
    for path, flow in zip(paths, compiled, strict=True):
        if flow.name in seen:
            message = f"{flow.name} is also defined in {seen[flow.name]}: give this one a new version"
            duplicates.append(DslError(Location(path, 1, 1), message))
        seen.setdefault(flow.name, path)
    if duplicates:
        raise CompileError(duplicates)
    return compiled


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            problems = validate_files(args.flows)
            return _report(problems) if problems else 0
        if args.command == "compile":
            out = Path(args.out)
            compiled = _compile_all(args.flows)
            out.mkdir(parents=True, exist_ok=True)
            for flow in compiled:
                (out / flow.asl_file).write_text(flow.asl_json(), encoding="utf-8")
                (out / flow.manifest_file).write_text(flow.manifest_json(), encoding="utf-8")
                print(f"{out / flow.asl_file}")
            return 0
        if args.command == "graph":
            sys.stdout.write(mermaid(compile_file(args.flow).ir))
            return 0
        flow = compile_file(args.flow)
        try:
            data = json.loads(args.input)
        except json.JSONDecodeError as exc:
            print(f"--input: not JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(data, dict):
            print("--input: must be a JSON object", file=sys.stderr)
            return 2
        print(json.dumps({"steps": preview(flow.ir, data, args.requester)}, indent=2))
        return 0
    except CompileError as exc:
        return _report(exc.errors)
