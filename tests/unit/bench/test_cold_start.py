"""bench/cold_start.py without timing anything: which handlers it finds in the template, the
environment it gives them, the package-leak check, and how it reports a failing import."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from bench import cold_start
from bench.cold_start import FUNCTIONS, CfnLoader, Row, discover, load_template, package_leaks

TEMPLATE = textwrap.dedent("""\
    Parameters:
      LogLevel: {Type: String, Default: DEBUG}
      Pool: {Type: String}
    Globals:
      Function:
        CodeUri: functions/
        Environment:
          Variables:
            LOG_LEVEL: !Ref LogLevel
            POOL: !Ref Pool
            TABLE_NAME: !Ref Table
            BUS: !GetAtt Bus.Name
            PREFIX: !Sub "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:${Table.Arn}"
            JOINED: {"Fn::Join": ["-", [a, b]]}
            SHARED: from-globals
            RETRIES: 3
    Resources:
      Table: {Type: AWS::DynamoDB::Table}
      One:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg.handlers.one.handler
          Environment: {Variables: {SHARED: from-function, ACTION_NAME: One, FLAG: true}}
      Two:
        Type: AWS::Serverless::Function
        Properties: {Handler: pkg.two.main, CodeUri: ./functions}
      Elsewhere:
        Type: AWS::Serverless::Function
        Properties: {Handler: other.handler, CodeUri: samples/}
    """)


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_template_handlers_are_found_and_their_modules_exist() -> None:
    handlers = discover(load_template())
    modules = {h.module for h in handlers}
    assert {"approvals.handlers.api", "approvals.handlers.start", "approvals.samples"} <= modules
    assert "ApiFunction" in {h.function for h in handlers}
    for module in modules:
        path = FUNCTIONS.joinpath(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module


def test_the_template_environment_is_plain_strings() -> None:
    api = next(h for h in discover(load_template()) if h.function == "ApiFunction")
    assert api.env["TABLE_NAME"] == "ApprovalsTable"  # !Ref of a resource: its logical id
    assert api.env["LOG_LEVEL"] == "INFO"  # !Ref of a parameter: its default
    assert all(isinstance(v, str) and "${" not in v for v in api.env.values())


def test_the_loader_reads_short_form_tags_as_long_form() -> None:
    loaded = yaml.load("a: !Ref X\nb: !GetAtt [B, Arn]\nc: !Sub 'x-${Y}'\n", Loader=CfnLoader)
    assert loaded == {"a": {"Ref": "X"}, "b": {"Fn::GetAtt": ["B", "Arn"]}, "c": {"Fn::Sub": "x-${Y}"}}


def test_only_functions_whose_code_is_functions_are_found() -> None:
    handlers = discover(yaml.load(TEMPLATE, Loader=CfnLoader))
    assert [(h.function, h.module) for h in handlers] == [("One", "pkg.handlers.one"), ("Two", "pkg.two")]


def test_the_environment_merges_globals_and_the_function_and_replaces_intrinsics() -> None:
    one, two = discover(yaml.load(TEMPLATE, Loader=CfnLoader))
    assert {k: v for k, v in one.env.items() if not k.startswith(("AWS_", "PYTHONPATH"))} == {
        "LOG_LEVEL": "DEBUG",
        "POOL": "Pool",  # a parameter without a default: its name
        "TABLE_NAME": "Table",
        "BUS": "Bus",
        "PREFIX": "arn:aws:states:us-east-1:123456789012:Table",
        "JOINED": "placeholder",
        "SHARED": "from-function",  # the function's own value wins
        "RETRIES": "3",
        "ACTION_NAME": "One",
        "FLAG": "true",
    }
    assert two.env["SHARED"] == "from-globals" and "ACTION_NAME" not in two.env
    assert one.env["AWS_LAMBDA_FUNCTION_NAME"] == "One" and two.env["AWS_LAMBDA_FUNCTION_NAME"] == "Two"
    assert one.env["AWS_DEFAULT_REGION"] == "us-east-1" and one.env["AWS_ACCESS_KEY_ID"]
    assert one.env["PYTHONPATH"] == str(FUNCTIONS)


def test_the_process_takes_only_path_and_home_from_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    one = discover(yaml.load(TEMPLATE, Loader=CfnLoader))[0]
    env = cold_start._process_env(one, "/tmp/pycache")
    assert "AWS_PROFILE" not in env and env["PYTHONPATH"] == str(FUNCTIONS)
    assert set(env) - set(one.env) <= {"PATH", "HOME", "PYTHONPYCACHEPREFIX"}


def test_package_leaks_finds_the_compiler_yaml_and_pyyaml(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    write(root / "app" / "__init__.py")
    write(root / "app" / "store.py", "import json\nimport yaml\n")
    write(root / "app" / "typed.py", """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import yaml  # never runs on Lambda
        else:
            from dsl_compiler.ir import build
        """)
    write(root / "dsl_compiler" / "__init__.py", "import yaml\n")  # reported as a folder, not entered
    write(tmp_path / "outside" / "linked.py", "import dsl_compiler.errors\n")
    (root / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "app" / "loop").symlink_to(root, target_is_directory=True)  # must not walk forever
    write(root / "requirements.txt", "boto3==1.0\npyyaml >= 6  # for the catalog\n")
    assert package_leaks(root) == [
        "functions/app/store.py imports yaml (line 2)",
        "functions/app/typed.py imports dsl_compiler (line 5)",
        "functions/dsl_compiler: dsl_compiler is in the package",
        "functions/linked/linked.py imports dsl_compiler (line 1)",
        "functions/requirements.txt:2 requires pyyaml >= 6",
    ]


def test_package_leaks_reports_nothing_on_a_clean_tree(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    write(root / "app" / "__init__.py", "from . import yaml_free\n")
    write(root / "app" / "yaml_free.py", "import json\nfrom .adapters import store\n")
    write(root / "flows" / "flow.yaml", "name: x\n")
    write(root / "requirements.txt", "# no PyYAML here\nboto3==1.0\n-r base.txt\n")
    assert package_leaks(root) == []


def test_a_failing_import_is_reported_with_its_stderr(tmp_path: Path) -> None:
    template = write(tmp_path / "template.yaml", """\
        Resources:
          Broken:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: functions/, Handler: no_such_module_here.handler}
        """)
    [row] = cold_start.measure(rounds=1, template=template)
    assert (row.function, row.module, row.holds, row.median_ms) == ("Broken", "no_such_module_here", False, None)
    assert row.error is not None and "ModuleNotFoundError" in row.error


def test_the_table_and_the_exit_code(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [Row("a.ok", "Ok", 100.0, 120.0, holds=True), Row("a.slow", "Slow", 300.0, 310.0)]
    monkeypatch.setattr(cold_start, "measure", lambda rounds, seed: rows)
    monkeypatch.setattr(cold_start, "package_leaks", lambda: ["functions/x.py imports yaml (line 1)"])
    assert cold_start.main(["--rounds", "1"]) == 1
    out = capsys.readouterr().out
    assert "a.ok" in out and "Slow" in out and "310.0" in out and "imports yaml" in out
    monkeypatch.setattr(cold_start, "measure", lambda rounds, seed: rows[:1])
    assert cold_start.main(["--json"]) == 0
    assert '"median_ms": 120.0' in capsys.readouterr().out
