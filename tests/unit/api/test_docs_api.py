"""docs/api.md stays true: its route table lists exactly the routes the resolver serves (and its
OpenAPI document describes), and its error table exactly the codes the API answers with.

Route rows are table rows whose first cell is `` `METHOD /path` `` (OpenAPI path syntax); error
rows are the rows of the table under `## Errors` whose first cell is `` `code` `` and whose second
is the HTTP status.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar

import pytest

from approvals.api import app
from approvals.api.errors import ApiError
from approvals.domain import DomainError

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "api.md"
API_PACKAGE = ROOT / "functions" / "approvals" / "api"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ROUTE_ROW = re.compile(rf"^\|\s*`({'|'.join(METHODS)}) (/[^`\s]*)`\s*\|")
ERROR_ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|")
# Served by the resolver, but left out of the OpenAPI document on purpose (include_in_schema=False):
# they are the document and its page. docs/api.md lists them all the same.
OUTSIDE_OPENAPI = {("GET", "/openapi.json"), ("GET", "/docs")}

Route = tuple[str, str]
E = TypeVar("E", bound=Exception)


def doc_lines() -> list[str]:
    return DOC.read_text(encoding="utf-8").splitlines()


def documented_rows() -> list[tuple[Route, list[str]]]:
    """Each route row of docs/api.md: (method, path) and its cells."""
    rows = []
    for line in doc_lines():
        found = ROUTE_ROW.match(line)
        if found:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows.append(((found.group(1), found.group(2)), cells))
    return rows


def documented_routes() -> set[Route]:
    return {route for route, _ in documented_rows()}


def registered_routes() -> dict[Route, int]:
    """What the resolver serves (powertools keeps it in `_static_routes` and `_dynamic_routes`):
    (method, path with `{param}` as OpenAPI writes it) -> the status a success answers with."""
    found = {}
    for route in app._static_routes + app._dynamic_routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        found[(route.method.upper(), path)] = route.status_code
    return found


def openapi_routes() -> set[Route]:
    """The operations of the public OpenAPI document (`/openapi.json`)."""
    schema = app.get_openapi_schema()
    return {
        (method.upper(), path)
        for path, item in (schema.paths or {}).items()
        for method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")
        if getattr(item, method) is not None
    }


def documented_errors() -> list[tuple[str, int]]:
    """The (code, status) rows of the table in the `## Errors` section."""
    rows, inside = [], False
    for line in doc_lines():
        if line.startswith("## "):
            inside = line.strip() == "## Errors"
            continue
        found = ERROR_ROW.match(line) if inside else None
        if found:
            rows.append((found.group(1), int(found.group(2))))
    return rows


def _subclasses(cls: type[E]) -> list[type[E]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


def api_errors() -> set[tuple[str, int]]:
    """(code, status) of every error the API function answers with: the ApiError classes
    (errors.py) and the DomainError classes (domain/errors.py), each answered with its own
    `status` and `code`, and every `error_response(HTTPStatus.X, "code", ...)` in the api package."""
    found = {(cls.code, int(cls.status)) for cls in _subclasses(ApiError)}
    found |= {(cls.code, int(cls.status)) for cls in _subclasses(DomainError)}
    for module in sorted(API_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "error_response"):
                continue
            status, code = node.args[:2]
            if isinstance(code, ast.Attribute) and code.attr == "code":
                continue  # an error's own code and status (`error.code`): the classes above
            where = f"{module.name}:{node.lineno}"
            assert isinstance(code, ast.Constant) and isinstance(code.value, str), f"{where}: code is not a literal"
            assert isinstance(status, ast.Attribute) and getattr(status.value, "id", None) == "HTTPStatus", (
                f"{where}: status is not HTTPStatus.X")
            found.add((code.value, int(HTTPStatus[status.attr])))
    return found


def gateway_codes() -> set[str]:
    """Codes answered before the function runs: API Gateway's responses (template.yaml) and the
    local gateway's own (local/gateway.py, `error_body("code", ...)`)."""
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    codes = set(re.findall(r'"code": "([a-z_]+)"', template))
    tree = ast.parse((ROOT / "local" / "gateway.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "error_body":
            assert isinstance(node.args[0], ast.Constant), f"gateway.py:{node.lineno}: code is not a literal"
            codes.add(str(node.args[0].value))
    return codes


# --- routes ----------------------------------------------------------------------------------


def test_each_route_is_documented_once() -> None:
    counts = Counter(route for route, _ in documented_rows())
    assert counts, "no route rows found in docs/api.md"
    assert [route for route, n in counts.items() if n > 1] == []


def test_route_table_is_the_openapi_document() -> None:
    documented = documented_routes() - OUTSIDE_OPENAPI
    served = openapi_routes()
    assert sorted(served - documented) == [], "served and in /openapi.json, missing from docs/api.md"
    assert sorted(documented - served) == [], "in docs/api.md, not in /openapi.json"


def test_route_table_is_every_registered_route() -> None:
    # Also catches a route hidden from the OpenAPI document, or one of OUTSIDE_OPENAPI gone.
    documented, served = documented_routes(), set(registered_routes())
    assert sorted(served - documented) == [], "registered on the resolver, missing from docs/api.md"
    assert sorted(documented - served) == [], "in docs/api.md, not registered on the resolver"


def test_documented_success_status_is_the_routes() -> None:
    served = registered_routes()
    wrong = []
    for route, cells in documented_rows():
        assert len(cells) == 5, f"{route}: expected 5 cells (route, who, body, success, errors), got {cells}"
        status = re.match(r"(\d{3})\b", cells[3])
        assert status, f"{route}: the success cell should start with the status: {cells[3]!r}"
        if route in served and int(status.group(1)) != served[route]:
            wrong.append((route, int(status.group(1)), served[route]))
    assert wrong == [], "(route, documented, actual)"


# --- errors ----------------------------------------------------------------------------------


def test_each_error_code_is_documented_once() -> None:
    counts = Counter(code for code, _ in documented_errors())
    assert counts, "no error rows found under '## Errors' in docs/api.md"
    assert [code for code, n in counts.items() if n > 1] == []


def test_error_table_is_the_codes_the_api_answers_with() -> None:
    documented, answered = set(documented_errors()), api_errors()
    assert sorted(answered - documented) == [], "(code, status) the API answers with, missing from docs/api.md"
    assert sorted(documented - answered) == [], "(code, status) in docs/api.md that the API never answers with"


@pytest.mark.parametrize("code", sorted(gateway_codes()))
def test_gateway_error_codes_are_documented(code: str) -> None:
    assert code in {documented for documented, _ in documented_errors()}
