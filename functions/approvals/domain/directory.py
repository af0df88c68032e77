"""The people of a tenant and how an approver spec becomes a list of user ids.

Loaded from the shape of flows/directory.yaml (users, departments, delegations); the
store keeps one per tenant. Resolution is deterministic: directory order, duplicates
dropped at their second appearance, so the same input always yields the same assignees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput, UnknownUser

# User and tenant ids: what a verified identity may be (api/identity.py), and safe inside table
# keys (`T#<tenant>#...`: a `#` could reach another key space).
# Check an id with `fullmatch`, never `match`: Python's `$` also matches before a final newline, so
# `NAME.match("ann\n")` would pass. The patterns keep `^...$` because their `.pattern` is also a
# pydantic and OpenAPI `pattern` (Rust regex, ECMAScript), where `$` is the end of the text and
# Python's `\Z` is no anchor at all.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
# Approval ids: the execution's name too (Step Functions allows 80 characters), and a URL segment.
APPROVAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class User:
    id: str
    department: str | None
    manager: str | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Delegation:
    """Decisions waiting for `source` may be taken by `target` while the window is open."""

    source: str
    target: str
    starts: datetime
    ends: datetime

    def active(self, at: datetime) -> bool:
        return self.starts <= at < self.ends


def parse_time(value: str | datetime) -> datetime:
    """ISO 8601 with `Z` or an offset; a naive time is taken as UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def directory_problems(doc: Any) -> list[dict[str, str]]:
    """Everything wrong with a directory document (the shape of flows/directory.yaml), as
    `{"field", "problem"}`; empty when `Directory.from_dict` may read it. A directory is checked
    before it is stored: a bad one would break every later stage that opens for the tenant."""
    if not isinstance(doc, Mapping):
        return [{"field": "directory", "problem": "must be a mapping with tenant, users, departments, delegations"}]
    problems: list[dict[str, str]] = []

    def bad(field: str, problem: str) -> None:
        problems.append({"field": field, "problem": problem})

    unknown = sorted(set(doc) - {"tenant", "users", "departments", "delegations"})
    for key in unknown:
        bad(str(key), "unknown key")
    if not isinstance(doc.get("tenant"), str) or not NAME.fullmatch(doc["tenant"]):
        bad("tenant", "required: letters, digits and ._@+- only")
    users = _records(doc, "users", bad)
    ids = [u.get("id") for u in users]
    seen: set[str] = set()
    for i, user in enumerate(users):
        where = f"users[{i}]"
        uid = user.get("id")
        if not isinstance(uid, str) or not NAME.fullmatch(uid):
            bad(f"{where}.id", "required: letters, digits and ._@+- only")
        elif uid in seen:
            bad(f"{where}.id", f"duplicate user {uid!r}")
        seen.add(str(uid))
        for key in sorted(set(user) - {"id", "name", "department", "manager", "roles"}):
            bad(f"{where}.{key}", "unknown key")
        manager = user.get("manager")
        if manager is not None and manager not in ids:
            bad(f"{where}.manager", f"user {manager!r} is not in the directory")
        roles = user.get("roles")
        if roles is not None and (not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)):
            bad(f"{where}.roles", "a list of role names")
    for i, department in enumerate(_records(doc, "departments", bad)):
        if not isinstance(department.get("id"), str):
            bad(f"departments[{i}].id", "required")
        if department.get("head") is not None and department["head"] not in ids:
            bad(f"departments[{i}].head", f"user {department['head']!r} is not in the directory")
    for i, delegation in enumerate(_records(doc, "delegations", bad)):
        where = f"delegations[{i}]"
        for key in ("from", "to"):
            if delegation.get(key) not in ids:
                bad(f"{where}.{key}", f"user {delegation.get(key)!r} is not in the directory")
        try:
            if parse_time(delegation["starts"]) >= parse_time(delegation["ends"]):
                bad(f"{where}.ends", "must be after starts")
        except (KeyError, TypeError, ValueError):
            bad(where, "starts and ends are required ISO 8601 times")
    return problems


def _records(doc: Mapping[str, Any], key: str, bad: Any) -> list[Mapping[str, Any]]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        bad(key, "a list of mappings")
        return []
    return value


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


class Directory:
    def __init__(
        self,
        users: Iterable[User],
        department_heads: Mapping[str, str] | None = None,
        delegations: Iterable[Delegation] = (),
        tenant: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.users: dict[str, User] = {u.id: u for u in users}
        self.department_heads = dict(department_heads or {})
        self.delegations = list(delegations)

    @classmethod
    def checked(cls, doc: Any) -> Directory:
        """`from_dict` of a document `directory_problems` finds nothing wrong with; else InvalidInput."""
        problems = directory_problems(doc)
        if problems:
            raise InvalidInput("the directory is not valid", problems)
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Directory:
        """Build from the YAML shape: `{tenant, users: [...], departments: [...], delegations: [...]}`."""
        users = [
            User(
                id=str(u["id"]),
                department=u.get("department"),
                manager=u.get("manager"),
                roles=tuple(str(r) for r in u.get("roles") or ()),
            )
            for u in doc.get("users") or ()
        ]
        heads = {str(d["id"]): str(d["head"]) for d in doc.get("departments") or () if d.get("head")}
        delegations = [
            Delegation(str(d["from"]), str(d["to"]), parse_time(d["starts"]), parse_time(d["ends"]))
            for d in doc.get("delegations") or ()
        ]
        return cls(users, heads, delegations, tenant=doc.get("tenant"))

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise UnknownUser(user_id) from None

    def exists(self, user_id: str) -> bool:
        return user_id in self.users

    # --- hierarchy -----------------------------------------------------------------

    def managers(self, user_id: str) -> list[str]:
        """The management chain above `user_id`, direct manager first (stops at a cycle)."""
        chain: list[str] = []
        current = self.user(user_id).manager
        while current and current not in chain and current != user_id:
            chain.append(current)
            current = self.users[current].manager if current in self.users else None
        return chain

    def holders(self, role: str, department: str | None = None) -> list[str]:
        return [
            u.id for u in self.users.values() if role in u.roles and (department is None or u.department == department)
        ]

    # --- approver specs ------------------------------------------------------------

    def resolve(self, spec: Mapping[str, Any], requester: str, data: Mapping[str, Any] | None = None) -> list[str]:
        """The user ids one approver spec names, in order, without duplicates."""
        if not isinstance(spec, Mapping) or len(spec) == 0:
            raise InvalidInput(f"an approver spec is a mapping with one key, not {spec!r}")
        if "users" in spec:
            return _unique(str(u) for u in spec["users"])
        if "role" in spec:
            scope = spec.get("scope")
            if scope not in (None, "department"):
                raise InvalidInput(f"unknown role scope {scope!r}")
            department = self.user(requester).department if scope == "department" else None
            return self.holders(str(spec["role"]), department)
        if "manager" in spec:
            level = int(spec["manager"])
            chain = self.managers(requester)
            return [chain[level - 1]] if 0 < level <= len(chain) else []
        if "manager_chain" in spec:
            return self._manager_chain(spec["manager_chain"], requester)
        if "department_head" in spec:
            department = self.user(requester).department
            head = self.department_heads.get(department) if department else None
            return [head] if spec["department_head"] and head else []
        if "from_input" in spec:
            return self._from_input(str(spec["from_input"]), data or {})
        if "requester" in spec:
            return [requester] if spec["requester"] else []
        raise InvalidInput(f"unknown approver spec {spec!r}")

    def resolve_all(
        self, specs: Sequence[Mapping[str, Any]] | Mapping[str, Any], requester: str, data: Mapping[str, Any] | None
    ) -> list[str]:
        """The union of several specs (a single spec is accepted too), first appearance wins."""
        items = [specs] if isinstance(specs, Mapping) else list(specs)
        return _unique(uid for spec in items for uid in self.resolve(spec, requester, data))

    def _manager_chain(self, arg: Any, requester: str) -> list[str]:
        chain = self.managers(requester)
        if isinstance(arg, Mapping):
            role = str(arg["until_role"])
            for index, uid in enumerate(chain):
                user = self.users.get(uid)
                if user is not None and role in user.roles:
                    return chain[: index + 1]
            return chain  # nobody above holds the role: the whole chain decides
        return chain[: int(arg)]

    def _from_input(self, name: str, data: Mapping[str, Any]) -> list[str]:
        value = data.get(name)
        picked = [value] if isinstance(value, str) else list(value or [])
        for uid in picked:
            if not isinstance(uid, str) or uid not in self.users:
                raise UnknownUser(str(uid), field=name)
        return _unique(picked)

    # --- delegation ----------------------------------------------------------------

    def acting_for(self, user_id: str, at: datetime) -> list[str]:
        """Whom `user_id` stands in for at `at` (out-of-office delegations)."""
        return _unique(d.source for d in self.delegations if d.target == user_id and d.active(at))

    def delegate_of(self, user_id: str, at: datetime) -> str | None:
        """Who stands in for `user_id` at `at`, if anyone."""
        for d in self.delegations:
            if d.source == user_id and d.active(at):
                return d.target
        return None
