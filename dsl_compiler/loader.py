"""Stage 1: read YAML, keeping the line and column of every node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from .errors import ErrorSink, Location

Path = tuple[str | int, ...]


@dataclass
class Node:
    """A YAML node: `value` is a scalar, a dict of `Node` or a list of `Node`."""

    value: Any
    loc: Location
    key_locs: dict[str, Location] = field(default_factory=dict)
    # Quote style of a scalar ('"', "'", '|', '>' or None): needed to place a column inside a string.
    style: str | None = None

    def plain(self) -> Any:
        """The node as plain Python data, for validation."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def find(self, path: Sequence[str | int]) -> tuple[Node, bool]:
        """The deepest node along `path`, and whether the whole path was found.

        Segments that start with '=' are union tags added by validation, not keys: skipped.
        """
        node = self
        for seg in path:
            if isinstance(seg, str) and seg.startswith("="):
                continue
            if isinstance(node.value, dict) and isinstance(seg, str) and seg in node.value:
                node = node.value[seg]
            elif isinstance(node.value, list) and isinstance(seg, int) and 0 <= seg < len(node.value):
                node = node.value[seg]
            else:
                return node, False
        return node, True


class _Constructor(SafeConstructor):
    pass


def _build(raw: yaml.Node, file: str, sink: ErrorSink, constructor: _Constructor) -> Node:
    loc = Location(file, raw.start_mark.line + 1, raw.start_mark.column + 1)
    if isinstance(raw, yaml.MappingNode):
        values: dict[str, Node] = {}
        key_locs: dict[str, Location] = {}
        for key_raw, value_raw in raw.value:
            key_loc = Location(file, key_raw.start_mark.line + 1, key_raw.start_mark.column + 1)
            key = constructor.construct_object(key_raw, deep=True) if isinstance(key_raw, yaml.ScalarNode) else None
            if not isinstance(key, str):
                # YAML 1.1 turns `on`, `yes`, `1` into bool or int keys; the DSL has none of those.
                sink.add(key_loc, f"keys must be text, found {key!r}" if key is not None else "keys must be text")
                continue
            if key in values:
                sink.add(key_loc, f"duplicate key '{key}'")
                continue
            values[key] = _build(value_raw, file, sink, constructor)
            key_locs[key] = key_loc
        return Node(values, loc, key_locs)
    if isinstance(raw, yaml.SequenceNode):
        return Node([_build(item, file, sink, constructor) for item in raw.value], loc)
    value = constructor.construct_object(raw, deep=True)
    style = raw.style if isinstance(raw, yaml.ScalarNode) else None
    return Node(value, loc, style=style or None)


def load(text: str, file: str, sink: ErrorSink) -> Node | None:
    """Parse one flow file. YAML syntax problems go to `sink` with their position; None then."""
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        sink.add(Location(file, line, col), f"YAML syntax: {problem}")
        return None
    except yaml.YAMLError as exc:  # unmarked errors (encoding): still a clean message
        sink.add(Location(file, 1, 1), f"YAML: {exc}")
        return None
    documents = [d for d in documents if d is not None]
    if not documents:
        sink.add(Location(file, 1, 1), "the file is empty: a flow needs 'flow', 'version' and 'steps'")
        return None
    if len(documents) > 1:
        second = documents[1].start_mark
        sink.add(Location(file, second.line + 1, second.column + 1), "one flow per file: found a second document")
    try:
        root = _build(documents[0], file, sink, _Constructor())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        sink.add(Location(file, line, col), f"YAML: {exc.problem}")
        return None
    if not isinstance(root.value, dict):
        sink.add(root.loc, "a flow file must be a mapping with 'flow', 'version' and 'steps'")
        return None
    return root
