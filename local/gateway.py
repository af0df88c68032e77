"""The local API gateway: what API Gateway and its Cognito authorizer do on AWS, on 127.0.0.1.

Each HTTP request becomes an API Gateway REST proxy event and goes to the deployed `ApiFunction`
through Lambda `invoke`: in moto the Lambda seam runs the handler in-process with the function's
own environment (table, bus, state machine prefix) as configured by template.yaml; in front of a
`RemoteStack` (local/remote.py) it is the function deployed on LocalStack or AWS.

The caller is proven by `Authorization: Bearer <JWT>`, signed RS256 with a key made when the
gateway starts (so tokens die with it) and checked for signature, issuer and expiry; its
claims go to the handler as a Cognito authorizer's would (`requestContext.authorizer.claims`).
`POST /_local/token` with `{"user": "ann", "tenant": "acme"}` hands out such tokens: this
gateway listens on 127.0.0.1 only. Tokens are never read from URLs.

    with MotoStack(server=True) as stack, Gateway(stack) as gateway:
        token = gateway.issue_token("ann", "acme")
        ...  # http://127.0.0.1:<gateway.port>/v1/health
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry

from .deployed import NAME as _NAME
from .deployed import DeployedStack

ISSUER = "approvals-local-gateway"
TOKEN_PATH = "/_local/token"
# Reached without a token, as the template's `Auth: {Authorizer: NONE}` events are on AWS.
PUBLIC_RESOURCES = {"/v1/health": "/v1/health", "/openapi.json": "/openapi.json", "/docs": "/docs"}
# API Gateway's own limit; the handler refuses bodies over its smaller one (413) by itself.
GATEWAY_MAX_BODY = 10 * 1024 * 1024


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog (5) resets connections under 20 simultaneous requests.
    request_queue_size = 128
    daemon_threads = True


class Gateway:
    def __init__(
        self,
        stack: DeployedStack,
        *,
        port: int = 0,
        function: str = "ApiFunction",
        token_seconds: int = 3600,
        quiet: bool = False,
    ) -> None:
        self.stack = stack
        self.function = function
        self.token_seconds = token_seconds
        self.quiet = quiet
        self._port = port
        self._key = RSAKey.generate_key(2048)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Gateway:
        gateway = self

        class Handler(_RequestHandler):
            owner = gateway

        self._server = _Server(("127.0.0.1", self._port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def function_name(self) -> str:
        return self.stack.resource(self.function)

    # --- tokens ----------------------------------------------------------------------------

    def issue_token(self, user: str, tenant: str, seconds: int | None = None) -> str:
        now = int(time.time())
        # As a Cognito ID token names the user twice (UserClaim picks which one the API reads).
        claims = {"iss": ISSUER, "sub": user, "cognito:username": user, "tenant": tenant, "iat": now,
                  "exp": now + (self.token_seconds if seconds is None else seconds), "jti": uuid.uuid4().hex}
        return str(jwt.encode({"alg": "RS256", "kid": "local"}, claims, self._key))

    def verify(self, authorization: str | None) -> dict[str, Any] | None:
        """The claims of a valid `Bearer` token, or None (missing, malformed, forged or expired)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            decoded = jwt.decode(token.strip(), self._key, algorithms=["RS256"])
            JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER}, sub={"essential": True}, exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        return dict(decoded.claims)

    # --- one request -----------------------------------------------------------------------

    def event(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, claims: Mapping[str, Any] | None,
        source_ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """The API Gateway REST proxy event (format 1.0) for one request."""
        split = urlsplit(target)
        path = unquote(split.path) or "/"
        resource = PUBLIC_RESOURCES.get(path, "/{proxy+}")
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        query = parse_qsl(split.query, keep_blank_values=True)
        query_single = {k: v for k, v in query} or None
        query_multi: dict[str, list[str]] = {}
        for k, v in query:
            query_multi.setdefault(k, []).append(v)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        authorizer = {"claims": {k: str(v) for k, v in claims.items()}} if claims else None
        return {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": query_single,
            "multiValueQueryStringParameters": query_multi or None,
            "pathParameters": {"proxy": path.lstrip("/")} if resource == "/{proxy+}" else None,
            "stageVariables": None,
            "body": text if body else None,
            "isBase64Encoded": encoded,
            "requestContext": {
                "resourcePath": resource, "httpMethod": method, "path": path, "stage": "local",
                "requestId": str(uuid.uuid4()), "requestTimeEpoch": int(time.time() * 1000),
                "accountId": "123456789012", "apiId": "local", "protocol": "HTTP/1.1",
                "identity": {"sourceIp": source_ip}, "authorizer": authorizer,
            },
        }

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Run the API function on `event` (moto Lambda invoke: the seam applies its environment)."""
        response = self.stack.client("lambda").invoke(
            FunctionName=self.function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            # What API Gateway does with a crashed integration, in the API's error shape.
            print(f"local gateway: ApiFunction failed: {payload[:2000]!r}", file=sys.stderr)
            return {"statusCode": 502, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps(error_body("internal", "internal error"))}
        result: dict[str, Any] = json.loads(payload)
        return result


class _RequestHandler(BaseHTTPRequestHandler):
    owner: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "approvals-local-gateway"

    def __getattr__(self, name: str) -> Callable[[], None]:
        """`do_<METHOD>` for every method: deployed, `ANY /{proxy+}` (template.yaml) hands any
        method to the function, which answers one no route has 404 `not_found` in its own shape
        (http.server would answer a method it has no `do_` for with a 501 HTML page)."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        started = time.monotonic()
        status = 500
        try:
            status = self._route()
        except Exception as error:  # the gateway's own failure: say so, keep serving
            print(f"local gateway: {type(error).__name__}: {error}", file=sys.stderr)
            status = self._send_json(500, error_body("internal", "the local gateway failed"))
        finally:
            if not self.owner.quiet:
                elapsed = (time.monotonic() - started) * 1000
                print(f"{self.command} {urlsplit(self.path).path} -> {status} ({elapsed:.0f} ms)", file=sys.stderr)

    def _route(self) -> int:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True  # where this request ends is unknown
            return self._send_json(400, error_body("invalid_input", "the request is not valid", [
                {"field": "Content-Length", "problem": "must be the body's length in bytes"}]))
        if length > GATEWAY_MAX_BODY:
            self.close_connection = True  # the body is not read
            return self._send_json(413, error_body("payload_too_large", "the body is too large"))
        body = self.rfile.read(length) if length > 0 else b""
        path = unquote(urlsplit(self.path).path)
        if path == TOKEN_PATH:
            return self._token(body)
        claims = self.owner.verify(self.headers.get("Authorization"))
        if claims is None and path not in PUBLIC_RESOURCES:
            return self._send_json(401, error_body("unauthorized", "a valid bearer token is required"))
        event = self.owner.event(self.command, self.path, list(self.headers.items()), body, claims,
                                 source_ip=self.client_address[0])
        return self._send_result(self.owner.invoke(event))

    def _token(self, body: bytes) -> int:
        if self.command != "POST":
            return self._send_json(405, error_body("invalid_input", "POST {\"user\", \"tenant\"} to get a token"))
        try:
            request = json.loads(body or b"{}")
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's recursion
            return self._send_json(400, error_body("invalid_input", "the request is not valid",
                                                   [{"field": "body", "problem": "malformed JSON"}]))
        problems = [
            {"field": name, "problem": "required: letters, digits and ._@+- only"}
            for name in ("user", "tenant")
            if not isinstance(request, dict) or not isinstance(request.get(name), str)
            or not _NAME.fullmatch(request[name])  # not `match`: "ann\n" would pass
        ]
        if problems:
            return self._send_json(400, error_body("invalid_input", "the request is not valid", problems))
        token = self.owner.issue_token(request["user"], request["tenant"])
        return self._send_json(200, {"token": token, "token_type": "Bearer", "expires_in": self.owner.token_seconds})

    def _send_json(self, status: int, body: Any) -> int:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has the length of its body, not the body
            self.wfile.write(data)
        return status

    def _send_result(self, result: Mapping[str, Any]) -> int:
        status = int(result.get("statusCode") or 502)
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        headers: dict[str, list[str]] = {}
        for name, value in (result.get("headers") or {}).items():
            headers[name] = [str(value)]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = [str(v) for v in values]
        self.send_response(status)
        for name, values in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                for value in values:
                    self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, a URL or headers too long) in the
        API's error shape, as API Gateway's own answers are (template.yaml, GatewayResponses)."""
        self.close_connection = True
        if not self.request_version.startswith("HTTP/1."):  # unparsed (or HTTP/0.9): still a status line
            self.request_version = self.protocol_version
        if code >= 500:
            self._send_json(code, error_body("internal", "internal error"))
        else:
            # the phrase, not http.server's message: that one quotes the request line back
            self._send_json(code, error_body("invalid_input", f"the request is not valid: {HTTPStatus(code).phrase}"))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is printed by _handle instead

