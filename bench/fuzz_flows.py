"""Flows for the compiler fuzz (bench/compiler_fuzz.py), from one seeded `random.Random`: generated
flows (every step kind, nesting, conditions in CEL's forms, returns, awkward names and sizes) and
text mutations of those and of the example flows, in the spirit of tests/unit/compiler/test_fuzz.py
(whose fragments and template it reuses)."""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

from tests.unit.compiler.test_fuzz import NASTY, TEMPLATE, VALID

Flow = dict[str, Any]
_TYPES = ["string", "number", "integer", "boolean", "array", "object"]
# Field names: plain ones, and ones a path cannot carry, CEL reserves or the DSL reserves.
_NAMES = ["amount", "region", "urgent", "note", "days", "cost_center", "meta", "tags", "who", "when_at", "café"]
_ODD_NAMES = ["my field", "a-b", "_x", "a.b", "if", "requester", "x" * 70]
_SPECS: list[Flow] = [
    {"users": ["ann", "bob"]}, {"role": "finance"}, {"role": "hr", "scope": "department"}, {"manager": 1},
    {"manager_chain": 2}, {"manager_chain": {"until_role": "director"}}, {"department_head": True},
    {"requester": True}, {"users": ["ann"]}]
_DURATIONS = ["30s", "15m", "8h", "2d", "1w", "365d", "52w", "53w", "0s", "9999999w", "1h30m", "none"]
_FUNCTIONS = ["Go", "CreateVendor", "F" * 64, "Undo", "NotifyVendor"]
_WORDS = ["flow:", "version:", "steps:", "- id: x", "type: approval", "type: parallel", "type: branch", "when:",
          "allow: [return]", "timeout: none", "on_timeout: reject", "approvers: {role: x}", "input:", "branches:",
          "cases:", "default: []", "$.", "!", "&&", "||", "==", "in [", "has(", ".contains(", "null", "true",
          "9223372036854775808", '"a\nb"', "\t", "  ", "\n", ":", "- ", "[", "]", "{", "}", ","]


class FlowGen:
    """Random flows; `text()` is YAML. `big` makes a long flow (its size is what is tested). Each
    choice is an odd one (a name no path reads, a condition CEL refuses, a bad duration...) with
    probability `nasty`, so that some flows compile and the rest fail in all the ways there are."""

    def __init__(self, r: random.Random, nasty: float = 0.1) -> None:
        self.r = r
        self.nasty = nasty
        self.count = 0
        self.fields: dict[str, Flow] = {}

    def odd(self) -> bool:
        return self.r.random() < self.nasty

    def step_id(self) -> str:
        self.count += 1
        stem = self.r.choice(["review", "finance-check", "legal_ok", "s", "a-very-long-step-name" * 3])
        return f"{stem}-{self.count}"

    def duration(self, none: bool = False) -> str:
        if self.odd():
            return self.r.choice(_DURATIONS if none else [d for d in _DURATIONS if d != "none"])
        return self.r.choice(["2d", "3d", "1w", "none"] if none else ["1h", "2d", "30m"])

    def field_spec(self) -> Flow:
        kind = self.r.choice(_TYPES)
        spec: Flow = {"type": kind}
        roll = self.r.random()
        if roll < 0.6 or (kind in ("array", "object") and not self.odd()):
            spec["required"] = True
        elif roll < 0.8 and kind in ("string", "number", "integer", "boolean"):
            spec["default"] = {"string": "x", "number": 1.5, "integer": 2, "boolean": False}[kind]
        if kind == "string" and self.r.random() < 0.2:
            spec["enum"] = ["EU", "US"]
        return spec

    def condition(self) -> str:
        """A condition over the declared fields, in the subset or just outside it."""
        names = [n for n in self.fields if n.isascii() and n.isidentifier() and not n.startswith("_") and n != "if"]
        names = names + ["missing"] if self.odd() or not names else names

        def atom() -> str:
            name = self.r.choice(names)
            kind = self.fields.get(name, {}).get("type", "string")
            if self.odd():
                return self.r.choice([f"!{name} > 1", f"{name} > 9223372036854775808", f"!{name} == null",
                                      f"has({name}) < true", f'{name} == "a\nb"', f"{name} == 1 == true"])
            if name == "missing":
                return self.r.choice(['requester == "ann"', 'requester.endsWith("n")', "has(requester) == false"])
            if kind in ("number", "integer"):
                op = self.r.choice(["==", "!=", "<", "<=", ">", ">="])
                return self.r.choice([f"{name} {op} {self.r.choice(['1', '2.5', '-3', '1e3'])}",
                                      f"{name} in [1, 2]", f"!({name} > 1)", f"({name} >= 0) == false"])
            if kind == "string":
                return self.r.choice([f'{name} == "EU"', f'{name}.startsWith("a*")', f'{name} in ["a", "b"]',
                                      f'{name}.contains("x") == true', f'{name} < "m"', f"{name} == null"])
            if kind == "boolean":
                return self.r.choice([name, f"!{name}", f"{name} == false", f"!{name} in [false, true]",
                                      f"({name}) != true", f"!{name} == false"])
            if kind == "object":
                return self.r.choice([f"has({name}.sub)", f"{name}.x == 1", f"{name} != null", f"has({name})"])
            return self.r.choice([f"has({name})", f"has({name}) == false"])

        def expr(depth: int) -> str:
            if depth <= 0 or self.r.random() < 0.4:
                return atom()
            a, b = expr(depth - 1), expr(depth - 1)
            return self.r.choice([f"{a} && {b}", f"{a} || {b}", f"!({a})", f"({a}) || ({b})", f"({a}) == false",
                                  f"({a}) in [true, false]"])

        if self.odd():  # deep: a nested form that doubled the rules at each level once
            return "(" * 30 + atom() + ") in [true, false]" * 30
        return expr(self.r.randint(0, 3))

    def approval(self, returns: bool) -> Flow:
        spec = self.r.choice(_SPECS)
        step: Flow = {"id": self.step_id(), "type": "approval",
                      "approvers": self.r.sample(_SPECS, 2) if self.odd() else spec}
        if self.r.random() < 0.2 and ("manager_chain" not in spec or self.odd()):
            step["mode"] = self.r.choice(["all", "any", {"percent": 50}, {"quorum": 2 if self.odd() else 1}])
        timeout = self.duration(none=True)
        step["timeout"] = timeout
        if timeout != "none":
            step["on_timeout"] = self.r.choice(["approve", "reject", {"escalate_to": {"role": "boss"}},
                                                {"escalate_to": {"role": "boss"}, "timeout": "1d",
                                                 "on_timeout": {"escalate_to": {"manager": 2}}}])
            if self.r.random() < 0.2:
                step["remind"] = ["1h" if timeout in ("2d", "3d", "1w") or self.odd() else "1m"]
        allow = [a for a in ("add_signer", "transfer", "return") if self.r.random() < (0.6 if a == "return" and
                                                                                        returns else 0.2)]
        if allow:
            step["allow"] = allow
        return step

    def action(self, in_parallel: bool) -> Flow:
        step: Flow = {"id": self.step_id(), "type": "action", "function": self.r.choice(_FUNCTIONS)}
        readable = [n for n, f in self.fields.items() if (f.get("required") or "default" in f) and n.isidentifier()
                    and not n.startswith("_")]
        if self.r.random() < 0.6 and self.fields:
            mapping: Flow = {}
            for key in self.r.sample(["a", "b", "c.$", "d e", "nested"], self.r.randint(1, 3)):
                if key == "c.$" and not self.odd():
                    continue
                if self.odd() or not readable:
                    name = self.r.choice(list(self.fields))
                    mapping[key] = self.r.choice([f"$.{name}.sub", f"$.{name}.", {"k.$": "v", "ok": [1, {"x.$": 2}]},
                                                  "$bad", f"$.{name}"])
                else:
                    mapping[key] = self.r.choice([f"$.{self.r.choice(readable)}", "literal", 3, {"ok": [1, None]}])
            step["input"] = mapping
        if self.r.random() < 0.3:
            step["retry"] = {"attempts": self.r.randint(1, 5), "interval": self.duration()}
        if self.r.random() < 0.3 and not in_parallel:
            step["compensate"] = "Undo"
        return step

    def steps(self, n: int, depth: int, in_parallel: bool = False) -> list[Flow]:
        found: list[Flow] = []
        for _ in range(n):
            roll = self.r.random()
            if roll < 0.4 or depth >= 3:
                step = self.approval(returns=True)
            elif roll < 0.55:
                step = self.action(in_parallel)
            elif roll < 0.62:
                step = {"id": self.step_id(), "type": "notify", "to": self.r.choice(_SPECS), "message": "m"}
            elif roll < 0.68:
                until = [f for f, s in self.fields.items() if s["type"] == "string" and (s.get("required") or
                                                                                          self.odd())]
                step = {"id": self.step_id(), "type": "wait", **(
                    {"until": f"$.{self.r.choice(until)}"} if until and self.r.random() < 0.5
                    else {"duration": self.duration()})}
            elif roll < 0.84:
                cases = [{"when": self.condition(), "steps": self.steps(self.r.randint(0, 2), depth + 1,
                                                                         in_parallel)}
                         for _ in range(self.r.randint(1, 3))]
                step = {"id": self.step_id(), "type": "branch", "cases": cases}
                if self.r.random() < 0.5:
                    step["default"] = self.steps(self.r.randint(0, 2), depth + 1, in_parallel)
            else:
                branches = [self.steps(self.r.randint(1, 2), depth + 1, True) for _ in range(self.r.randint(2, 3))]
                step = {"id": self.step_id(), "type": "parallel", "branches": branches}
            if self.r.random() < 0.25:
                step["when"] = self.condition()
            found.append(step)
        return found

    def flow(self, big: bool = False) -> Flow:
        self.count = 0
        names = self.r.sample(_NAMES, self.r.randint(0, 6)) + (self.r.sample(_ODD_NAMES, 1) if self.odd() else [])
        self.fields = {name: self.field_spec() for name in names}
        n = self.r.randint(100, 900) if big else self.r.randint(1, 7)  # the most are over 1 MB
        flow: Flow = {"flow": "f" * 60 if self.odd() else self.r.choice(["fuzz", "a-flow"]),
                      "version": 10**9 if self.odd() else self.r.choice([1, 2, 10]),
                      "input": self.fields, "steps": self.steps(n, 0)}
        if self.r.random() < 0.3:
            flow["on_rejected"] = [{"notify": [{"requester": True}], "message": "no"},
                                   {"action": {"function": "Tell", "input": {"x": "$.who" if self.odd() else 1}}}]
        if self.r.random() < 0.2:
            flow["settings"] = {"if_no_approvers": self.r.choice(["approve", "reject", {"fallback": {"role": "a"}}])}
        if not flow["input"] or self.r.random() < 0.1:
            del flow["input"]
        return flow

    def text(self, big: bool = False) -> str:
        """The flow as block YAML, or (half the time, and faster to write) as JSON, which YAML reads too."""
        flow = self.flow(big)
        if self.r.random() < 0.5:
            return json.dumps(flow, ensure_ascii=False, indent=1)
        return yaml.safe_dump(flow, sort_keys=False, allow_unicode=True, width=10**6)


def fragment(r: random.Random) -> str:
    roll = r.random()
    if roll < 0.45:
        return r.choice(NASTY)
    if roll < 0.75:
        return r.choice(_WORDS)
    if roll < 0.9:
        return "".join(r.choice("abc: -[]{}!&|=\"'#\n\t$.()0123456789é²\u2028\x85") for _ in range(r.randint(1, 12)))
    return json.dumps(r.choice([1e308, -0.0, 2**64, "x" * 100, None, [], {}]))


def mutate(r: random.Random, text: str) -> str:
    """1 to 4 edits: insert a fragment, cut a span, repeat or drop a line."""
    for _ in range(r.randint(1, 4)):
        roll = r.random()
        at = r.randrange(len(text) + 1)
        if roll < 0.5:
            text = text[:at] + fragment(r) + text[at + r.randint(0, 8):]
        elif roll < 0.7:
            text = text[:at] + text[at + r.randint(1, 40):]
        else:
            lines = text.split("\n")
            i = r.randrange(len(lines))
            lines[i:i + 1] = [lines[i], lines[i]] if roll < 0.85 else []
            text = "\n".join(lines)
    return text


def template(r: random.Random) -> str:
    """test_fuzz's valid flow with up to 3 of its slots replaced."""
    slots = dict(VALID)
    for key in r.sample(sorted(VALID), r.randint(1, 3)):
        slots[key] = fragment(r)
    return TEMPLATE.format(**slots)
