"""`python -m dsl_compiler compile|template|upgrade|validate|graph|preview` (see api.md, "Command line")."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any, cast

from .errors import CompileError, DslError, Location
from .graph import mermaid
from .pipeline import CompiledFlow, compile_file, validate_files
from .preview import preview
from .sam_template import generated
from .terminal import error_line, progress
from .upgrade import upgrade

_EXAMPLES = {
    "compile": """examples:
  python -m dsl_compiler compile flows/leave-request.yaml --out statemachines
  python -m dsl_compiler compile flows/purchase-order.yaml flows/leave-request.yaml --out statemachines --check
""",
    "template": """examples:
  python -m dsl_compiler template                       # statemachines/*.manifest.json -> template.yaml
  python -m dsl_compiler template --check               # exit 1 if template.yaml is out of date
  python -m dsl_compiler template --statemachines build/sm --template build/template.yaml
""",
    "upgrade": """examples:
  python -m dsl_compiler upgrade statemachines/*.manifest.json           # rewrite older manifests in place
  python -m dsl_compiler upgrade statemachines/*.manifest.json --check   # exit 1 if any is older
""",
    "validate": """examples:
  python -m dsl_compiler validate flows/leave-request.yaml flows/purchase-order.yaml
""",
    "graph": """examples:
  python -m dsl_compiler graph flows/leave-request.yaml > leave-request.mmd
""",
    "preview": """examples:
  python -m dsl_compiler preview flows/leave-request.yaml --input '{"days": 5, "start_date": "2026-12-01"}'
  python -m dsl_compiler preview flows/purchase-order.yaml --requester ann \\
      --input '{"amount": 50000, "vendor": "acme", "cost_center": "cc-1"}'
""",
}


def _command(commands: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    return cast(argparse.ArgumentParser, commands.add_parser(
        name, help=summary, description=description, epilog=_EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dsl_compiler",
        description="Compile approval flows (YAML DSL) into AWS Step Functions state machines.",
        epilog="After adding or changing a flow: `make compile` (compile + template), then `make deploy`.\n"
        "`python -m dsl_compiler COMMAND --help` shows each command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compile_cmd = _command(
        commands, "compile", "write DIR/<flow>-v<version>.asl.json and its manifest for each flow",
        "Validate every flow, then write each one's state machine definition (ASL, with ${XArn}\n"
        "placeholders for DefinitionSubstitutions) and manifest into DIR. Nothing is written if any\n"
        "flow has a problem. Output is byte-identical from run to run.",
    )
    compile_cmd.add_argument("flows", nargs="+", metavar="FLOW.yaml")
    compile_cmd.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    compile_cmd.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming each file in DIR that is missing or stale"
    )
    template_cmd = _command(
        commands, "template", "write the generated state machines into template.yaml",
        "Rewrite the lines of the SAM template between `# BEGIN generated state machines` and\n"
        "`# END generated state machines`: one AWS::Serverless::StateMachine per manifest in the\n"
        "state-machine folder (DefinitionUri, a DefinitionSubstitutions entry and an invoke policy\n"
        "per function it calls, logging, tracing), its failed-executions alarm and a throttles\n"
        "alarm per function the machines call. Run it after `compile`.",
    )
    template_cmd.add_argument("--statemachines", default="statemachines", metavar="DIR",
                              help="folder with the compiled *.manifest.json (default: statemachines)")
    template_cmd.add_argument("--template", default="template.yaml", metavar="FILE",
                              help="the SAM template to update (default: template.yaml)")
    template_cmd.add_argument("--check", action="store_true",
                              help="write nothing; exit 1 if FILE is out of date with the manifests")
    upgrade_cmd = _command(
        commands, "upgrade", "rewrite manifests of an older format in the current one",
        "Rewrite each manifest written in an older format in the current one, from the flow source\n"
        "it carries, so that the functions can read the steps of versions already deployed. Its\n"
        "definition is left as it is. Manifests in the current format are not touched.",
    )
    upgrade_cmd.add_argument("manifests", nargs="+", metavar="FILE.manifest.json")
    upgrade_cmd.add_argument("--check", action="store_true", help="write nothing; exit 1 if any is in an older format")
    validate_cmd = _command(
        commands, "validate", "check flows; print every problem as FILE:LINE:COL",
        "Check flows without writing anything; every problem of every file is printed as\n"
        "FILE:LINE:COL: error: MESSAGE. Exit 1 if there is any.",
    )
    validate_cmd.add_argument("flows", nargs="+", metavar="FLOW.yaml")
    graph_cmd = _command(
        commands, "graph", "print a Mermaid flowchart of a flow",
        "Print the flow's steps, branches, timeouts and escalations as a Mermaid flowchart.",
    )
    graph_cmd.add_argument("flow", metavar="FLOW.yaml")
    preview_cmd = _command(
        commands, "preview", "print which steps an input would run (JSON)",
        "Evaluate the flow's conditions for one request input (the same rules the state machine's\n"
        "Choice states run) and print each step with whether it would run.",
    )
    preview_cmd.add_argument("flow", metavar="FLOW.yaml")
    preview_cmd.add_argument("--input", default="{}", metavar="JSON", help="the request input as JSON")
    preview_cmd.add_argument("--requester", default="", help="the requester's user id")
    return parser


def _report(errors: list[DslError]) -> int:
    for error in errors:
        loc = error.location
        print(error_line(f"{loc.file}:{loc.line}:{loc.col}", error.message, sys.stderr), file=sys.stderr)
    return 1


def _compile_all(paths: list[str]) -> list[CompiledFlow]:
    problems = validate_files(paths)
    if problems:
        raise CompileError(problems)
    compiled = [compile_file(p) for p in progress(paths, "flows compiled", sys.stderr)]
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


def _compile(paths: list[str], out: Path, check: bool) -> int:
    compiled = _compile_all(paths)
    files: dict[Path, str] = {}
    for flow in compiled:
        files[out / flow.asl_file] = flow.asl_json()
        files[out / flow.manifest_file] = flow.manifest_json()
    if check:
        # Files in DIR that no given flow produces are older versions, deployed on purpose.
        stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path}: {'stale' if path.is_file() else 'missing'} (run `make compile`)", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        if path.name.endswith(".asl.json"):
            print(path)
    return 0


def _template(template: Path, statemachines: Path, check: bool) -> int:
    if not template.is_file():
        return _report([DslError(Location(str(template), 1, 1), "no such file")])
    if not statemachines.is_dir():  # an empty section would undeploy every machine
        return _report([DslError(Location(str(statemachines), 1, 1), "no such folder (run `compile` first)")])
    current, wanted = generated(template, statemachines)
    if check:
        if current == wanted:
            return 0
        diff = difflib.unified_diff(current.splitlines(keepends=True), wanted.splitlines(keepends=True),
                                    str(template), f"{template} (generated)", n=1)
        sys.stderr.writelines(diff)
        print(f"{template}: out of date with {statemachines}/*.manifest.json (run `make compile`)", file=sys.stderr)
        return 1
    if current != wanted:
        template.write_text(wanted, encoding="utf-8")
    print(template)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            problems = validate_files(args.flows)
            return _report(problems) if problems else 0
        if args.command == "compile":
            return _compile(args.flows, Path(args.out), args.check)
        if args.command == "template":
            return _template(Path(args.template), Path(args.statemachines), args.check)
        if args.command == "upgrade":
            stale = upgrade([Path(p) for p in args.manifests], args.check)
            for path in stale:
                print(f"{path}: {'in an older format (run `make compile`)' if args.check else 'upgraded'}",
                      file=sys.stderr if args.check else sys.stdout)
            return 1 if stale and args.check else 0
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
