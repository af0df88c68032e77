"""Cold-start import cost of every Lambda handler in template.yaml, over a bare interpreter.

`python -m bench.cold_start [--rounds N] [--json]` from the repo root, or `measure()` from another
runner. Each round starts a fresh `python -c "pass"` and right after it a fresh
`python -c "import <module>"`, both with the function's environment: the machine's load drifts
between pairs, hardly within one, so the difference is the handler's own import cost.

`package_leaks()` lists what the Lambda package should not carry: the DSL compiler and PyYAML are
build-time tools (`make compile`), every handler that imports them pays for it on each cold start.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"
GOAL_MS = 250.0
REGION = "us-east-1"
# Pseudo parameters as a test account would resolve them (for !Ref and !Sub in the environment).
PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "approvals",
    "AWS::URLSuffix": "amazonaws.com",
}
# Build-time only: the compiler and the YAML parser it reads flows with.
FORBIDDEN = frozenset({"dsl_compiler", "yaml"})
FORBIDDEN_REQUIREMENTS = frozenset({"pyyaml", "dsl-compiler"})
BARE = "pass"


# --- the template ------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader reading CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) as their long
    form ({"Ref": ...}, {"Fn::GetAtt": ...}): an intrinsic stays recognisable as one."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        data = yaml.load(stream, Loader=CfnLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a template (no mapping at the top)")
    return data


@dataclass(frozen=True)
class Handler:
    function: str  # the logical id
    module: str  # what Lambda imports: the Handler setting without its last dot
    env: dict[str, str]  # the function's environment on Lambda (without PATH and HOME)


def _mapping(value: Any) -> dict[str, Any]:
    # `Environment:` with nothing under it loads as None: treat every missing level alike.
    return value if isinstance(value, dict) else {}


def _in_functions(code_uri: Any) -> bool:
    return isinstance(code_uri, str) and code_uri.strip().removeprefix("./").rstrip("/") == "functions"


def discover(template: Mapping[str, Any]) -> list[Handler]:
    """Every AWS::Serverless::Function whose code is functions/ (its own CodeUri or the Globals'),
    in template order."""
    defaults = _mapping(_mapping(template.get("Globals")).get("Function"))
    found = []
    for logical_id, resource in _mapping(template.get("Resources")).items():
        if _mapping(resource).get("Type") != "AWS::Serverless::Function":
            continue
        props = _mapping(resource.get("Properties"))
        handler = props.get("Handler", defaults.get("Handler"))
        if not _in_functions(props.get("CodeUri", defaults.get("CodeUri"))) or not isinstance(handler, str):
            continue
        module = handler.rpartition(".")[0]
        if module:
            found.append(Handler(logical_id, module, lambda_env(template, logical_id, props)))
    return found


def _variables(holder: Mapping[str, Any]) -> dict[str, Any]:
    return _mapping(_mapping(holder.get("Environment")).get("Variables"))


def _parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    params = _mapping(template.get("Parameters"))
    return {name: placeholder(spec["Default"], {}) for name, spec in params.items() if "Default" in _mapping(spec)}


def lambda_env(template: Mapping[str, Any], logical_id: str, props: Mapping[str, Any]) -> dict[str, str]:
    """Globals' variables, then the function's own, intrinsics made plain; then what Lambda sets
    itself, dummy credentials (an import must not reach for real ones) and /var/task's path."""
    defaults = _mapping(_mapping(template.get("Globals")).get("Function"))
    params = _parameter_defaults(template)
    merged = {**_variables(defaults), **_variables(props)}
    env = {name: placeholder(value, params) for name, value in merged.items()}
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_LAMBDA_FUNCTION_NAME=logical_id,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        PYTHONPATH=str(FUNCTIONS),
    )
    return env


def _ref(name: str, params: Mapping[str, str]) -> str:
    # A parameter resolves to its default, a pseudo parameter to a test account's, a resource to its id.
    return PSEUDO.get(name, params.get(name, name))


def _sub(arg: Any, params: Mapping[str, str]) -> str:
    text, local = (arg[0], _mapping(arg[1])) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
    if not isinstance(text, str):
        return "placeholder"

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in local:
            return placeholder(local[name], params)
        return _ref(name.split(".")[0], params)  # ${Resource.Attr} as the resource's id

    return re.sub(r"\$\{([^}!]+)\}", fill, text)


def placeholder(value: Any, params: Mapping[str, str]) -> str:
    """A plain value as Lambda gets it (a string); an intrinsic as a plausible stand-in."""
    if isinstance(value, bool):
        return str(value).lower()  # CloudFormation hands YAML's true as "true"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return _ref(arg, params)
        if fn == "Fn::GetAtt":
            target = arg.split(".")[0] if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else None
            return target if isinstance(target, str) else "placeholder"
        if fn == "Fn::Sub":
            return _sub(arg, params)
    return "placeholder"


# --- the measurement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    module: str
    function: str
    min_ms: float | None  # import cost over the bare interpreter, None when the import failed
    median_ms: float | None
    goal_ms: float = GOAL_MS
    holds: bool = False  # median_ms <= goal_ms
    error: str | None = None  # the failing import's exit code and stderr


def _process_env(handler: Handler, pycache: str) -> dict[str, str]:
    # Nothing else from the parent: a developer's AWS_PROFILE or PYTHONPATH would change the import.
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    # Bytecode goes to a folder of our own, not into functions/ (and is the same for every round).
    return {**env, **handler.env, "PYTHONPYCACHEPREFIX": pycache}


def _timed(code: str, env: Mapping[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    # cwd is the package root, as /var/task is on Lambda.
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=dict(env), cwd=FUNCTIONS, capture_output=True,
                          text=True, check=False)
    return time.perf_counter() - start, proc


def _failure(proc: subprocess.CompletedProcess[str]) -> str | None:
    if proc.returncode == 0:
        return None
    return f"exit {proc.returncode}: {proc.stderr.strip() or '(no stderr)'}"


def _warm_up(handler: Handler, pycache: str) -> str | None:
    """One untimed pair: fills the bytecode cache (round 1 is no outlier) and finds a failing import."""
    env = _process_env(handler, pycache)
    _timed(BARE, env)
    return _failure(_timed(f"import {handler.module}", env)[1])


def _pair(handler: Handler, pycache: str, costs: list[float]) -> str | None:
    """Bare, then the handler: appends the difference in ms, or returns why the import failed."""
    env = _process_env(handler, pycache)
    bare_s, bare = _timed(BARE, env)
    handler_s, proc = _timed(f"import {handler.module}", env)
    error = _failure(bare) or _failure(proc)
    if error is None:
        costs.append((handler_s - bare_s) * 1000)
    return error


def _row(handler: Handler, costs: list[float], error: str | None) -> Row:
    if error is not None or not costs:
        return Row(handler.module, handler.function, None, None, error=error or "no round measured")
    median = statistics.median(costs)
    return Row(handler.module, handler.function, round(min(costs), 1), round(median, 1), holds=median <= GOAL_MS)


def measure(rounds: int = 10, seed: int = 0, template: Path = TEMPLATE) -> list[Row]:
    """One row per function of the template whose code is functions/, in template order."""
    handlers = discover(load_template(template))
    order = list(handlers)
    random.Random(seed).shuffle(order)  # the same order every round, but not the template's
    costs: dict[str, list[float]] = {h.function: [] for h in handlers}
    with tempfile.TemporaryDirectory(prefix="cold-start-pycache-") as pycache:
        errors = {h.function: _warm_up(h, pycache) for h in order}
        for _ in range(rounds):
            for h in order:
                if errors[h.function] is None:  # a failed import is not measured again
                    errors[h.function] = _pair(h, pycache, costs[h.function])
    return [_row(h, costs[h.function], errors[h.function]) for h in handlers]


# --- what the package must not contain -------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Forbidden top-level packages imported at run time, with their lines. `if TYPE_CHECKING:`
    bodies never run on Lambda, so they need nothing in the package and are skipped."""

    def __init__(self) -> None:
        self.found: dict[str, list[int]] = {}

    def _add(self, name: str, line: int) -> None:
        top = name.partition(".")[0]
        if top in FORBIDDEN:
            self.found.setdefault(top, []).append(line)

    def visit_If(self, node: ast.If) -> None:
        for child in node.orelse if _is_type_checking(node.test) else [node.test, *node.body, *node.orelse]:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:  # a relative import stays inside the package
            self._add(node.module, node.lineno)


def forbidden_imports(path: Path) -> dict[str, list[int]]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return {}  # not Python we can read; importing it would fail on Lambda anyway
    visitor = _Imports()
    visitor.visit(tree)
    return visitor.found


def _walk(root: Path) -> Iterator[Path]:
    """Every folder and file under root, through symlinks (sam build copies what they point to),
    each real folder once (a link back up must not loop); forbidden folders are not entered."""
    seen: set[str] = set()
    for top, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        dirs.sort()
        yield from (Path(top, name) for name in dirs)
        dirs[:] = [name for name in dirs if name not in FORBIDDEN and name != "__pycache__"]
        yield from (Path(top, name) for name in sorted(files))


def _requirement_leaks(requirements: Path, shown: str) -> list[str]:
    if not requirements.is_file():
        return []
    leaks = []
    for number, line in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text) if not text.startswith("-") else None
        if name and re.sub(r"[-_.]+", "-", name.group(0)).lower() in FORBIDDEN_REQUIREMENTS:
            leaks.append(f"{shown}:{number} requires {text}")
    return leaks


def package_leaks(root: Path = FUNCTIONS) -> list[str]:
    """dsl_compiler or yaml in the package (a folder or module of that name, a runtime import of
    either), or PyYAML in its requirements.txt: one line each."""
    leaks = []
    for path in _walk(root):
        shown = path.relative_to(root.parent).as_posix()
        if path.name in FORBIDDEN or (path.suffix == ".py" and path.stem in FORBIDDEN):
            leaks.append(f"{shown}: {path.stem} is in the package")
        elif path.suffix == ".py" and path.is_file():
            for name, lines in sorted(forbidden_imports(path).items()):
                leaks.append(f"{shown} imports {name} (line {', '.join(map(str, lines))})")
    leaks.sort()  # by path: os.walk lists a folder's subfolders before its files
    requirements = root / "requirements.txt"
    leaks += _requirement_leaks(requirements, requirements.relative_to(root.parent).as_posix())
    return leaks


# --- output --------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_table(rows: Sequence[Row], leaks: Sequence[str]) -> str:
    header = ("handler module", "function", "min ms", "median ms", "goal", "holds")
    cells = [(r.module, r.function, _ms(r.min_ms), _ms(r.median_ms), f"<= {r.goal_ms:g} ms median",
              "yes" if r.holds else "FAILED" if r.error else "no") for r in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    right = {2, 3}  # numbers line up on the right

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "  ".join(padded).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *(line(c) for c in cells)]
    out += [f"\n{r.function} ({r.module}) failed to import: {r.error}" for r in rows if r.error]
    out.append("\nms are over a bare `python -c pass` started right before each import.")
    out.append("Package leaks (dsl_compiler and PyYAML must stay out of functions/): "
               + (f"{len(leaks)}" if leaks else "none"))
    out += [f"  {leak}" for leak in leaks]
    return "\n".join(out)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start",
                                     description="Cold-start import cost of the Lambda handlers over a bare python.")
    parser.add_argument("--rounds", type=int, default=10, help="pairs (bare, import) per handler (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the handlers' order (default 0)")
    parser.add_argument("--json", action="store_true", help="rows as JSON on stdout (leaks on stderr)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """0 when every handler's median holds the goal, 1 otherwise (or when none was found)."""
    args = _args(argv)
    rows = measure(args.rounds, args.seed)
    leaks = package_leaks()
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        print(json.dumps({"package_leaks": leaks}, indent=2), file=sys.stderr)
    else:
        print(format_table(rows, leaks))
    return 0 if rows and all(row.holds for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
