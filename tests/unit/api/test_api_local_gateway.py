"""The local gateway's own parts: the proxy event it builds and the tokens it accepts."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from approvals.api import app
from approvals.api.identity import Caller, caller_from_event
from local.gateway import Gateway
from local.stack import MotoStack

from .conftest import Context, FakeService


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway(cast(MotoStack, None))  # event() and tokens need no stack


def test_event_is_a_rest_proxy_event_with_cognito_claims(gateway: Gateway) -> None:
    claims = gateway.verify(f"Bearer {gateway.issue_token('ann', 'acme')}")
    assert claims is not None
    event = gateway.event("POST", "/v1/approvals/a%201/decisions?x=1&x=2&y=", [
        ("Content-Type", "application/json"), ("X-Multi", "a"), ("X-Multi", "b")], b'{"step": "s"}', claims)
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "v1/approvals/a 1/decisions"}
    assert (event["path"], event["httpMethod"], event["body"], event["isBase64Encoded"]) == (
        "/v1/approvals/a 1/decisions", "POST", '{"step": "s"}', False)
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"] and event["headers"]["X-Multi"] == "b"
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["requestContext"]["authorizer"]["claims"]["sub"] == "ann"
    assert caller_from_event(event) == Caller(user="ann", tenant="acme")


def test_public_resources_and_binary_bodies(gateway: Gateway) -> None:
    event = gateway.event("GET", "/v1/health", [], b"", None)
    assert (event["resource"], event["pathParameters"], event["body"]) == ("/v1/health", None, None)
    assert event["requestContext"]["authorizer"] is None
    binary = gateway.event("POST", "/v1/x", [], b"\xff\x00", None)
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_the_handler_reads_the_gateways_event(gateway: Gateway, fake_service: FakeService) -> None:
    claims = gateway.verify(f"Bearer {gateway.issue_token('bob', 'acme')}")
    event = gateway.event("GET", "/v1/approvals/a1", [("Content-Type", "application/json")], b"", claims)
    assert app.resolve(event, Context())["statusCode"] == 200  # type: ignore[arg-type]
    assert fake_service.last("get_approval")[0] == ("acme", "a1", "bob")


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Basic YW5uOmFubg==", "Bearer not.a.jwt", "Bearer a.b.c",
])
def test_malformed_authorization_is_refused(gateway: Gateway, header: Any) -> None:
    assert gateway.verify(header) is None


def test_expired_or_foreign_tokens_are_refused(gateway: Gateway) -> None:
    assert gateway.verify(f"Bearer {gateway.issue_token('ann', 'acme', seconds=-1)}") is None
    other = Gateway(cast(MotoStack, None))  # another start, another key
    assert gateway.verify(f"Bearer {other.issue_token('ann', 'acme')}") is None
    assert gateway.verify(f"bearer {gateway.issue_token('ann', 'acme')}") is not None  # the scheme is case-blind


# --- over HTTP, the function being the resolver itself --------------------------------------


@pytest.fixture(scope="module")
def running() -> Iterator[Gateway]:
    """The gateway on a free port, its Lambda invoke replaced by the resolver: the event goes through
    JSON as a Lambda payload does. One for the module (stopping one waits for its poll)."""
    gateway = Gateway(cast(MotoStack, None), quiet=True)

    def invoke(event: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = app.resolve(json.loads(json.dumps(event)), Context())  # type: ignore[arg-type]
        return result

    gateway.invoke = invoke  # type: ignore[method-assign]
    with gateway:
        yield gateway


@pytest.fixture
def served(running: Gateway, fake_service: FakeService) -> Gateway:
    """`running`, with this test's fake use cases behind the resolver."""
    return running


def send(gateway: Gateway, method: str, path: str, body: bytes | None = None, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        if data:
            assert response.getheader("Content-Type") == "application/json", data[:200]
        return response.status, json.loads(data) if data else None
    finally:
        connection.close()


def raw_request(gateway: Gateway, request: bytes) -> tuple[int, Any]:
    """Bytes as they are on the wire (http.client would not send a malformed request)."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload) if payload else None


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path", ["/v1/inbox", "/v1/approvals/a1", "/v1/health", "/nowhere"])
def test_every_method_reaches_the_function_which_answers_404(method: str, path: str, served: Gateway) -> None:
    # Deployed, `ANY /{proxy+}` hands any method to the function; http.server answered 501 in HTML.
    status, body = send(served, method, path, token=served.issue_token("ann", "acme"))
    assert (status, body["error"]["code"]) == (404, "not_found"), body
    assert set(body["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("method", ["PATCH", "TRACE", "FOO"])
def test_unknown_methods_still_need_a_token(method: str, served: Gateway) -> None:
    status, body = send(served, method, "/v1/inbox")
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_head_is_answered_without_a_body(served: Gateway) -> None:
    assert send(served, "HEAD", "/v1/inbox", token=served.issue_token("ann", "acme")) == (404, None)
    assert send(served, "HEAD", "/v1/inbox") == (401, None)  # the gateway's own answer too
    # and the connection stays usable: no stray body bytes ahead of the next answer
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        for method, path, answer in (("HEAD", "/v1/inbox", (401, b"")),
                                     ("GET", "/v1/health", (200, b'{"status":"ok"}'))):
            connection.request(method, path)
            response = connection.getresponse()
            assert (response.status, response.read()) == answer
    finally:
        connection.close()


def test_known_routes_still_work(served: Gateway, fake_service: FakeService) -> None:
    token = served.issue_token("ann", "acme")
    assert send(served, "GET", "/v1/health") == (200, {"status": "ok"})
    status, _ = send(served, "POST", "/v1/approvals/a1/decisions", b'{"step": "manager", "decision": "approve"}',
                     token=token)
    assert status == 200 and fake_service.last("decide")[0][:4] == ("acme", "a1", "manager", "ann")


def test_a_path_with_an_encoded_newline_is_404(served: Gateway, fake_service: FakeService) -> None:
    token = served.issue_token("ann", "acme")
    for path in ("/v1/approvals/a1%0A", "/v1/inbox%0a", "/v1/approvals/a1%0A/history"):
        status, body = send(served, "GET", path, token=token)
        assert (status, body["error"]["code"]) == (404, "not_found"), path
    assert fake_service.calls == []


def test_a_body_that_is_not_utf8_is_400_through_the_gateway(served: Gateway, fake_service: FakeService) -> None:
    status, body = send(served, "POST", "/v1/approvals/a1/comments", b'{"text": "caf\xe9"}',
                        token=served.issue_token("ann", "acme"))
    assert (status, body["error"]["details"][0]["field"]) == (400, "body")


@pytest.mark.parametrize(("user", "tenant", "field"), [("ann\n", "acme", "user"), ("ann", "acme\n", "tenant")])
def test_no_token_for_an_id_with_a_trailing_newline(user: str, tenant: str, field: str, served: Gateway) -> None:
    status, body = send(served, "POST", "/_local/token", json.dumps({"user": user, "tenant": tenant}).encode())
    assert status == 400 and [d["field"] for d in body["error"]["details"]] == [field]


@pytest.mark.parametrize("payload", [b"[" * 10_000 + b"]" * 10_000, b"\xff\xfe", b"1" * 5000])
def test_the_token_endpoint_refuses_bad_json_with_400(payload: bytes, served: Gateway) -> None:
    status, body = send(served, "POST", "/_local/token", payload)
    assert status == 400 and body["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("length", ["abc", "-5", "1.5"])
def test_a_bad_content_length_is_400(length: str, served: Gateway) -> None:
    request = f"POST /v1/inbox HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
    status, body = raw_request(served, request)
    assert status == 400 and body["error"]["details"][0]["field"] == "Content-Length"


@pytest.mark.parametrize("request_line", [b"GARBAGE\r\n\r\n", b"GET /v1/inbox HTTP/9.9\r\n\r\n",
                                          b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n"])
def test_http_servers_own_refusals_are_in_the_shape(request_line: bytes, served: Gateway) -> None:
    status, body = raw_request(served, request_line)
    assert 400 <= status < 600 and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == ("internal" if status >= 500 else "invalid_input")


def test_a_hundred_simultaneous_connections_are_all_answered(served: Gateway) -> None:
    """The listen backlog takes them (socketserver's default of 5 reset connections under 20 once the
    process was busy running handlers)."""
    assert served._server is not None and served._server.request_queue_size >= 100
    sockets = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(100)]
    try:
        for sock in sockets:  # every connection open before any request is sent
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
        answers = []
        for sock in sockets:
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            answers.append(data.split(b"\r\n", 1)[0])
    finally:
        for sock in sockets:
            sock.close()
    assert answers == [b"HTTP/1.0 200 OK"] * 100 or set(answers) == {b"HTTP/1.1 200 OK"}
