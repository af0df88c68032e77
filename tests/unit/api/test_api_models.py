"""The shapes: what api.md lists, and the OpenAPI document that describes them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from approvals.api import app
from approvals.api.models import ApprovalOut, DecisionIn, DecisionOut, History, InboxItem, SignersIn, StepOut

from .conftest import make_event, sample_approval

CONTRACT_PATHS = {
    ("get", "/v1/health"), ("get", "/v1/flows"), ("post", "/v1/flows/{flow}/preview"),
    ("post", "/v1/flows/{flow}/approvals"), ("get", "/v1/approvals/{approval_id}"), ("get", "/v1/inbox"),
    ("post", "/v1/approvals/{approval_id}/decisions"), ("post", "/v1/approvals/{approval_id}/signers"),
    ("post", "/v1/approvals/{approval_id}/transfer"), ("post", "/v1/approvals/{approval_id}/return"),
    ("post", "/v1/approvals/{approval_id}/resubmit"), ("post", "/v1/approvals/{approval_id}/withdraw"),
    ("post", "/v1/approvals/{approval_id}/remind"), ("post", "/v1/approvals/{approval_id}/comments"),
    ("get", "/v1/approvals/{approval_id}/history"),
}


def test_response_models_have_exactly_the_contract_fields() -> None:
    assert set(ApprovalOut.model_fields) == {"id", "flow", "flow_version", "status", "requester", "input",
                                             "revision", "created_at", "updated_at", "steps"}
    assert set(StepOut.model_fields) == {"step", "status", "mode", "assignees", "decisions", "opened_at", "deadline"}
    assert set(DecisionOut.model_fields) == {"user", "acting_for", "decision", "comment", "at"}
    # acting_for is one more than the contract's inbox item: whom a stand-in decides for.
    assert set(InboxItem.model_fields) == {"approval_id", "flow", "step", "requester", "opened_at", "deadline",
                                           "acting_for"}
    assert set(History.model_fields) == {"source", "events"}


def test_domain_approval_fits_the_model() -> None:
    dumped = ApprovalOut.model_validate(sample_approval().to_api()).model_dump(mode="json")
    assert dumped["status"] == "running" and dumped["steps"][0]["status"] == "open"
    assert "task_token" not in dumped["steps"][0]


@pytest.mark.parametrize("body", [
    {"step": "manager", "decision": "approve", "tenant": "other"},
    {"step": "manager", "decision": "approve", "revision": -1},
    {"step": "manager"},
])
def test_request_models_refuse_unknown_or_bad_fields(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DecisionIn.model_validate(body)


def test_signers_need_someone() -> None:
    with pytest.raises(ValidationError):
        SignersIn.model_validate({"step": "manager", "users": [], "position": "after"})


def openapi() -> dict[str, Any]:
    response = app.resolve(make_event("GET", "/openapi.json", claims=None), None)  # type: ignore[arg-type]
    assert response["statusCode"] == 200
    document: dict[str, Any] = json.loads(response["body"])
    return document


def test_openapi_lists_every_contract_endpoint() -> None:
    document = openapi()
    found = {(method, path) for path, item in document["paths"].items() for method in item}
    assert found == CONTRACT_PATHS


def test_openapi_documents_errors_in_the_api_shape_and_no_422() -> None:
    document = openapi()
    assert "422" not in json.dumps(document["paths"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path == "/v1/health":
                assert operation["security"] == []
                continue
            for code in ("400", "401"):
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/v1/flows/{flow}/approvals"]["post"]["responses"]["201"]


def test_docs_page_is_html() -> None:
    response = app.resolve(make_event("GET", "/docs", claims=None), None)  # type: ignore[arg-type]
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["Content-Type"] == ["text/html"]
    assert "swagger" in response["body"].lower()
