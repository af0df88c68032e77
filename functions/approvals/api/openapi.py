"""The API's OpenAPI document and the page to try it at, built when they are asked for.

powertools' OpenAPI models (~100 pydantic models) take longer to import than the rest of the API
function; only these two routes need them, so they are imported on the first request for either,
not at every cold start. The page is powertools' own Swagger UI, bundled with it (no CDN).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

TITLE = "Approvals API"
DESCRIPTION = "Approval flows: start an approval, decide on its steps, follow its history."


def configure(app: APIGatewayRestResolver) -> None:
    """The document's title, version and bearer security (powertools' `configure_openapi`)."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    app.configure_openapi(title=TITLE, version="1", description=DESCRIPTION,
                          security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")}, security=[{"bearer": []}])


def document(app: APIGatewayRestResolver, base: str) -> str:
    """The OpenAPI document as JSON, its server being `base` (the stage prefix, or `/`)."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    text: str = app.get_openapi_json_schema(servers=[Server(url=base)])
    return text


@cache
def _bundle() -> tuple[str, str]:
    import aws_lambda_powertools.event_handler as handler_package

    folder = Path(handler_package.__file__).parent / "openapi" / "swagger_ui"
    return ((folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
            (folder / "swagger-ui.min.css").read_text(encoding="utf-8"))


def page(app: APIGatewayRestResolver, base: str) -> str:
    """The Swagger UI page with the document inlined (`</` escaped so that it cannot end the script)."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    spec: Any = json.loads(document(app, base))
    escaped = json.dumps(spec, indent=2).replace("</", "<\\/")
    js, css = _bundle()
    return generate_swagger_html(escaped, js, css, "", None, False)
