"""A compiled definition as AWS checks it: every state reachable, names within 80 characters, and
the size of what CreateStateMachine receives within 1 MB.

The emitter is meant never to produce the first two (these checks are its guard and the tests'
and bench's measure); the size is the flow's own: a located error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_STATE_NAME = 80  # AWS refuses a definition with a longer state name
MAX_DEFINITION_BYTES = 1024 * 1024  # AWS's limit on a state machine definition
# DefinitionSubstitutions turns each `${XArn}` into the function's ARN before AWS sees the
# definition: a Lambda function ARN is at most 140 characters (Lambda's FunctionName limit).
MAX_ARN = 140
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z0-9]+\}")


def transitions(state: Mapping[str, Any]) -> Iterator[str]:
    """The states one state can go to next in its own `States` (not into its Parallel branches)."""
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield state[key]
    for rule in [*state.get("Choices", []), *state.get("Catch", [])]:
        if isinstance(rule.get("Next"), str):
            yield rule["Next"]


def unreachable(machine: Mapping[str, Any]) -> list[str]:
    """States nothing reaches from `StartAt`, in this machine and in every Parallel branch,
    (AWS refuses the definition: `MISSING_TRANSITION_TARGET: State "X" is not reachable`)."""
    states: Mapping[str, Any] = machine["States"]
    seen: set[str] = set()
    todo = [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo.extend(transitions(states[name]))
    found = [name for name in states if name not in seen]
    for state in states.values():
        for branch in state.get("Branches", []):
            found += unreachable(branch)
    return found


def state_names(machine: Mapping[str, Any]) -> Iterator[str]:
    """Every state name, those inside Parallel branches included."""
    for name, state in machine["States"].items():
        yield name
        for branch in state.get("Branches", []):
            yield from state_names(branch)


def deployed_size(definition: Mapping[str, Any]) -> int:
    """Bytes of the definition AWS counts: minified JSON, UTF-8, each `${...}` ARN placeholder
    replaced by an ARN of the longest length a Lambda function ARN can have."""
    text = json.dumps(definition, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    grown = sum(MAX_ARN - len(m.group()) for m in _PLACEHOLDER.finditer(text))
    return len(text.encode("utf-8")) + grown


def emitter_bugs(definition: Mapping[str, Any]) -> list[str]:
    """What the emitter must never produce and AWS would refuse: unreachable states, long names."""
    bugs = [f"state '{name}' is unreachable" for name in unreachable(definition)]
    bugs += [f"state name '{name[:40]}...' is longer than {MAX_STATE_NAME} characters"
             for name in state_names(definition) if len(name) > MAX_STATE_NAME]
    return bugs
