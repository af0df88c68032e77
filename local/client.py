"""A small client of the HTTP API (docs/api.md) as served by the local gateway, for tests
and the demo: it acts as real users would, each with a token from `POST /_local/token`, and learns
what happened only by reading `GET /approvals/{id}` (the approval runs asynchronously).

Standard library only (urllib): any Python 3.11 can run it, in or outside the venv.

    api = Client(gateway.url)
    approval = api.start("leave-request", {"days": 1, "start_date": "2026-12-01"}, as_user="ann")
    api.wait_for_step_open(approval["id"], "manager", as_user="bob")
    api.decide(approval["id"], "manager", as_user="bob")
    api.wait_for_status(approval["id"], "approved")

A refusal raises `ApiError` with the HTTP status and api.md's `{"error": {"code", "message",
"details"}}` body.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

PREFIX = "/v1"
TOKEN_PATH = "/_local/token"
TERMINAL = frozenset({"approved", "rejected", "withdrawn", "failed"})
_T = TypeVar("_T")


class ApiError(Exception):
    """A non-2xx answer: `status`, and the error body's `code`, `message` and `details`."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.status = status
        self.body = body
        self.code: str = str(error.get("code") or "")
        self.message: str = str(error.get("message") or "")
        self.details: list[dict[str, Any]] = list(error.get("details") or [])
        super().__init__(f"{method} {path} -> {status} {self.code}: {self.message or body!r}"
                         + (f" {self.details}" if self.details else ""))


class WaitTimeout(TimeoutError):
    """What was awaited did not happen in time."""


class EndedEarly(RuntimeError):
    """The approval finished otherwise than awaited; the message lists its steps' statuses."""


class Reply(NamedTuple):
    """One answer; a tuple, so `status, body, headers = client.request(...)` reads naturally."""

    status: int
    body: Any  # parsed JSON when the answer is JSON, else the raw bytes
    headers: dict[str, str]


class Client:
    def __init__(self, base_url: str, *, tenant: str = "acme", timeout: float = 30.0,
                 poll_interval: float = 0.1, tokens: Callable[[str, str], str] | None = None) -> None:
        """`tokens(user, tenant)` gives a bearer token; by default `POST /_local/token` of the
        local gateway at `base_url` (a deployed API takes its identity provider's tokens)."""
        self.base_url = base_url.rstrip("/")
        self._token_source = tokens
        self.tenant = tenant
        self.timeout = timeout
        self.poll_interval = poll_interval
        # No proxies: the gateway is on 127.0.0.1, and urllib's default opener would read the proxy
        # variables from os.environ on every request, which the local stack's Lambda seam changes
        # from other threads (a key removed mid-iteration is a KeyError).
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._tokens: dict[tuple[str, str], str] = {}
        # Who started which approval: waiting on an approval reads it as its requester, who may
        # always see it (a future assignee may not, until their step opens).
        self._requesters: dict[str, str] = {}

    # --- the wire -----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        """One request as given (path from the host, e.g. `/v1/inbox`); never raises on a status.
        `body`: JSON-encoded unless already bytes."""
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw, status, got = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
        is_json = got.get("Content-Type", "").startswith("application/json")
        return Reply(status, json.loads(raw) if raw and is_json else raw, got)

    def call(self, method: str, path: str, body: Any = None, *, as_user: str,
             headers: Mapping[str, str] | None = None) -> Any:
        """`method` `/v1{path}` as `as_user`; the parsed answer, or ApiError for anything but 2xx."""
        reply = self.request(method, PREFIX + path, body, token=self.token(as_user), headers=headers)
        if not 200 <= reply.status < 300:
            raise ApiError(method, PREFIX + path, reply.status, reply.body)
        return reply.body

    def token(self, user: str, tenant: str | None = None) -> str:
        """A token for `user` (kept: tokens last an hour, a test run less)."""
        key = (user, tenant or self.tenant)
        if key not in self._tokens:
            self._tokens[key] = self._token_source(*key) if self._token_source else self._local_token(*key)
        return self._tokens[key]

    def _local_token(self, user: str, tenant: str) -> str:
        reply = self.request("POST", TOKEN_PATH, {"user": user, "tenant": tenant})
        if reply.status != 200:
            raise ApiError("POST", TOKEN_PATH, reply.status, reply.body)
        return str(reply.body["token"])

    # --- the endpoints ------------------------------------------------------------------------

    def start(self, flow: str, input: Mapping[str, Any], as_user: str,
              idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        approval: dict[str, Any] = self.call("POST", f"/flows/{_seg(flow)}/approvals", {"input": dict(input)},
                                             as_user=as_user, headers=headers)
        self._requesters[approval["id"]] = as_user
        return approval

    def preview(self, flow: str, input: Mapping[str, Any], as_user: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("POST", f"/flows/{_seg(flow)}/preview", {"input": dict(input)},
                                          as_user=as_user)
        return found

    def approval(self, approval_id: str, as_user: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/approvals/{_seg(approval_id)}",
                                          as_user=as_user or self._reader(approval_id))
        return found

    def history(self, approval_id: str, as_user: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/approvals/{_seg(approval_id)}/history",
                                          as_user=as_user or self._reader(approval_id))
        return found

    def inbox(self, as_user: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", "/inbox", as_user=as_user)
        return found

    def decide(self, approval_id: str, step: str, as_user: str, decision: str = "approve",
               comment: str | None = None, revision: int | None = None) -> dict[str, Any]:
        body = _without_none({"step": step, "decision": decision, "comment": comment, "revision": revision})
        return self._act(approval_id, "decisions", body, as_user)

    def add_signers(self, approval_id: str, step: str, as_user: str, users: list[str],
                    position: str = "before") -> dict[str, Any]:
        return self._act(approval_id, "signers", {"step": step, "users": users, "position": position}, as_user)

    def transfer(self, approval_id: str, step: str, as_user: str, to: str) -> dict[str, Any]:
        return self._act(approval_id, "transfer", {"step": step, "to": to}, as_user)

    def return_step(self, approval_id: str, step: str, as_user: str, to_step: str) -> dict[str, Any]:
        return self._act(approval_id, "return", {"step": step, "to_step": to_step}, as_user)

    def resubmit(self, approval_id: str, input: Mapping[str, Any], as_user: str) -> dict[str, Any]:
        return self._act(approval_id, "resubmit", {"input": dict(input)}, as_user)

    def withdraw(self, approval_id: str, as_user: str) -> dict[str, Any]:
        return self._act(approval_id, "withdraw", {}, as_user)

    def remind(self, approval_id: str, as_user: str) -> None:
        self._act(approval_id, "remind", {}, as_user)

    def comment(self, approval_id: str, text: str, as_user: str) -> dict[str, Any]:
        return self._act(approval_id, "comments", {"text": text}, as_user)

    def _act(self, approval_id: str, what: str, body: Mapping[str, Any], as_user: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("POST", f"/approvals/{_seg(approval_id)}/{what}", dict(body),
                                          as_user=as_user)
        return found

    def _reader(self, approval_id: str) -> str:
        reader = self._requesters.get(approval_id)
        if reader is None:
            raise ValueError(f"say as_user: {approval_id} was not started through this client")
        return reader

    # --- waiting for the asynchronous run -----------------------------------------------------

    def wait_for_step_open(self, approval_id: str, step: str, as_user: str | None = None, timeout: float = 15.0,
                           stage: int = 0) -> dict[str, Any]:
        """The entry of `step` once its stage `stage` (0: first opening; escalations and returns
        open it again) is open, read as `as_user` (default: the requester). For anyone but the
        requester a 404 meanwhile is "not yet": a future assignee may read the approval only once
        their step opens. EndedEarly if the approval finishes first."""

        def check() -> dict[str, Any] | None:
            try:
                approval = self.approval(approval_id, as_user)
            except ApiError as error:
                if error.status == 404 and as_user not in (None, self._requesters.get(approval_id)):
                    return None
                raise
            found = stage_of(approval, step, stage)
            if found is not None and found["status"] == "open":
                return found
            if approval["status"] in TERMINAL:
                raise EndedEarly(f"{approval_id} ended {approval['status']} before {step}#{stage} opened "
                                  f"(steps: {step_statuses(approval)})")
            return None

        return self._until(check, timeout, f"{step}#{stage} of {approval_id} open")

    def wait_for_inbox(self, as_user: str, approval_id: str, step: str, timeout: float = 15.0) -> dict[str, Any]:
        """The item of `GET /inbox` for `step` of `approval_id` once it waits for `as_user` (how a
        person learns there is something to decide)."""

        def check() -> dict[str, Any] | None:
            return next((i for i in self.inbox(as_user) if (i["approval_id"], i["step"]) == (approval_id, step)),
                        None)

        return self._until(check, timeout, f"{step} of {approval_id} in {as_user}'s inbox")

    def wait_for_status(self, approval_id: str, status: str, timeout: float = 15.0,
                        as_user: str | None = None) -> dict[str, Any]:
        """The approval once it has `status`. For a final status, also once the run has finished
        (its history ends `Approval Completed`): a withdrawal answers `withdrawn` at once, while
        the run cancels its open steps a moment later. EndedEarly on another final status."""

        def check() -> dict[str, Any] | None:
            approval = self.approval(approval_id, as_user)
            if approval["status"] == status:
                if status not in TERMINAL:
                    return approval
                events = self.history(approval_id, as_user)["events"]
                if events and events[-1]["type"] == "Approval Completed":
                    return self.approval(approval_id, as_user)  # as Finish left it
                return None
            if approval["status"] in TERMINAL:
                raise EndedEarly(f"{approval_id} ended {approval['status']}, not {status} "
                                  f"(steps: {step_statuses(approval)})")
            return None

        return self._until(check, timeout, f"{approval_id} {status}")

    def _until(self, check: Callable[[], _T | None], timeout: float, what: str) -> _T:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise WaitTimeout(f"{what}: not within {timeout}s")
            time.sleep(self.poll_interval)


# --- reading an Approval --------------------------------------------------------------------------


def stages(approval: Mapping[str, Any], step: str) -> list[dict[str, Any]]:
    """The entries of `step`, first opening first (the API lists steps in opening order)."""
    found = [s for s in approval["steps"] if s["step"] == step]
    return sorted(found, key=lambda s: s.get("stage", 0)) if all("stage" in s for s in found) else found


def stage_of(approval: Mapping[str, Any], step: str, stage: int = 0) -> dict[str, Any] | None:
    found = stages(approval, step)
    return found[stage] if stage < len(found) else None


def latest(approval: Mapping[str, Any], step: str) -> dict[str, Any]:
    """The latest entry of `step` (KeyError if it never appears)."""
    found = stages(approval, step)
    if not found:
        raise KeyError(f"no step {step} in {approval['id']}: {step_statuses(approval)}")
    return found[-1]


def step_statuses(approval: Mapping[str, Any]) -> dict[str, str]:
    """Step -> status of its latest entry."""
    return {s["step"]: latest(approval, s["step"])["status"] for s in approval["steps"]}


def chain_links(history: Mapping[str, Any]) -> bool:
    """Does every event of a history carry the hash of the one before it, numbered 1, 2, ...?
    (Decisions, `seq` null, are not links of the chain: api.md, "History".)"""
    events = [e for e in history["events"] if e["seq"] is not None]
    numbered = [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return numbered and all(e["prev_hash"] == p["hash"] for p, e in zip(events, events[1:], strict=False))


def _seg(value: str) -> str:
    return quote(value, safe="")


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
