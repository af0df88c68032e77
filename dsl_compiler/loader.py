"""Stage 1: read YAML, keeping the line and column of every node.

Only what JSON can carry is a value: text, finite numbers, booleans, null, mappings and lists.
Anything else YAML can express (dates, binary, sets, NaN, tags of other types) is a located error,
and so are the inputs that would exhaust the compiler: nesting deeper than MAX_DEPTH and aliases
that expand to more than MAX_ALIAS_NODES nodes (a "billion laughs" bomb).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent

from .errors import ErrorSink, Location
from .positions import Source

Path = tuple[str | int, ...]
MAX_DEPTH = 64  # mappings and lists inside each other (aliases expanded)
MAX_ALIAS_NODES = 10_000  # nodes that aliases add to the document, all of them together

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("str", "int", "float", "bool", "null")}
_TAG_OF = {yaml.MappingNode: _YAML + "map", yaml.SequenceNode: _YAML + "seq"}


@dataclass
class Node:
    """A YAML node: `value` is a scalar, a dict of `Node` or a list of `Node`."""

    value: Any
    loc: Location
    key_locs: dict[str, Location] = field(default_factory=dict)
    # Quote style of a scalar ('"', "'", '|', '>' or None): needed to place a column inside a string.
    style: str | None = None
    # Already reported by the loader (value None): validation says nothing more about it.
    invalid: bool = False
    source: Source | None = field(default=None, repr=False, compare=False)
    span: tuple[int, int] = (0, 0)

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

    def loc_at(self, offset: int) -> Location:
        """Where character `offset` of this text scalar is in the file (block scalars included)."""
        if self.source is None or not isinstance(self.value, str):
            return Location(self.loc.file, self.loc.line, self.loc.col + offset)
        offset = max(0, min(offset, len(self.value)))
        index = self.source.scalar_index(*self.span, self.style, self.value, offset)
        return Location(self.loc.file, *self.source.line_col(index))


class _LimitError(yaml.MarkedYAMLError):
    """A document too deep or too large once aliases are expanded."""


def _limit(problem: str, mark: Any) -> _LimitError:
    return _LimitError(None, None, problem, mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader that bounds nesting and alias expansion while composing, and notes explicit tags."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.expanded = 0
        self.sizes: dict[int, int] = {}  # id(node) -> its node count, aliases expanded
        self.tagged: set[int] = set()  # ids of nodes written with an explicit tag

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            size = self.sizes.get(id(node))
            if size is None:  # the anchor is still open: the node would contain itself
                raise _limit(f"alias '*{event.anchor}' refers to a node that contains it", event.start_mark)
            self.expanded += size
            if self.expanded > MAX_ALIAS_NODES:
                raise _limit(f"aliases expand to more than {MAX_ALIAS_NODES} nodes", event.start_mark)
            return node
        if isinstance(event, CollectionStartEvent):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _limit(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        explicit = getattr(event, "tag", None) not in (None, "!")
        node = super().compose_node(parent, index)
        if isinstance(event, CollectionStartEvent):
            self.depth -= 1
        if node is None:
            return None
        if explicit:
            self.tagged.add(id(node))
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        self.sizes[id(node)] = 1 + sum(self.sizes[id(c)] for c in children)
        return node


class _Builder:
    def __init__(self, file: str, sink: ErrorSink, source: Source, tagged: set[int]) -> None:
        self.file = file
        self.sink = sink
        self.source = source
        self.tagged = tagged
        self.constructor = SafeConstructor()

    def loc(self, raw: yaml.Node) -> Location:
        return Location(self.file, *self.source.line_col(raw.start_mark.index))

    def build(self, raw: yaml.Node, depth: int = 1) -> Node:
        loc = self.loc(raw)
        problem = self.kind_problem(raw)
        # Aliases can nest deeper than the text does. Collections count, as while composing: a
        # scalar in the 64th is fine (counting it made a valid flow's leaf an error, then a wrong type).
        if problem is None and depth > MAX_DEPTH and isinstance(raw, yaml.CollectionNode):
            problem = f"nested more than {MAX_DEPTH} levels deep"
        if problem is not None:
            self.sink.add(loc, problem)
            return Node(None, loc, invalid=True)
        if isinstance(raw, yaml.MappingNode):
            values: dict[str, Node] = {}
            key_locs: dict[str, Location] = {}
            for key_raw, value_raw in raw.value:
                key_loc = self.loc(key_raw)
                key, problem = self.scalar(key_raw) if isinstance(key_raw, yaml.ScalarNode) else (None, None)
                if problem is not None:
                    self.sink.add(key_loc, problem)
                    continue
                if not isinstance(key, str):
                    # YAML 1.1 turns `on`, `yes`, `1` into bool or int keys; the DSL has none of those.
                    found = f", found {_clip(repr(key))}" if key is not None else ""
                    self.sink.add(key_loc, f"keys must be text{found}")
                    continue
                if key in values:
                    self.sink.add(key_loc, f"duplicate key '{key}'")
                    continue
                values[key] = self.build(value_raw, depth + 1)
                key_locs[key] = key_loc
            return Node(values, loc, key_locs)
        if isinstance(raw, yaml.SequenceNode):
            return Node([self.build(item, depth + 1) for item in raw.value], loc)
        assert isinstance(raw, yaml.ScalarNode)
        value, problem = self.scalar(raw)
        if problem is not None:
            self.sink.add(loc, problem)
            return Node(None, loc, invalid=True)
        span = (raw.start_mark.index, raw.end_mark.index)
        return Node(value, loc, style=raw.style or None, source=self.source, span=span)

    def kind_problem(self, raw: yaml.Node) -> str | None:
        """Why an explicitly tagged collection is not a plain mapping or list (None when it is)."""
        if not isinstance(raw, yaml.CollectionNode) or id(raw) not in self.tagged or raw.tag == _TAG_OF[type(raw)]:
            return None
        return _unsupported_tag(raw.tag)

    def scalar(self, raw: yaml.ScalarNode) -> tuple[Any, str | None]:
        """The scalar's value, or the reason it is not one the DSL takes."""
        tag = raw.tag
        if id(raw) not in self.tagged:
            if tag == _YAML + "timestamp":
                shown = _clip(raw.value)
                return None, f"'{shown}' is read as a YAML date, and JSON has no dates: quote it to pass it as text"
            if tag not in _SCALAR_TAGS:  # `=` and `<<` (YAML 1.1 value and merge keys): plain text here
                return raw.value, None
        elif tag not in _SCALAR_TAGS:
            return None, _unsupported_tag(tag)
        try:
            value = self.constructor.construct_object(raw, deep=True)
        except (ValueError, KeyError, yaml.YAMLError):  # `!!int abc`, `!!bool maybe`, over 4300 digits
            short = tag.removeprefix(_YAML)
            if short in ("int", "float") and raw.value.strip("+-_0123456789").lower() in ("", "."):
                return None, "number out of range (beyond a double)"
            return None, f"'{_clip(raw.value)}' is not a valid !!{short}"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"'{_clip(raw.value)}' is not a finite number (JSON has no NaN or infinity)"
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1023:
            return None, "number out of range (beyond a double)"  # no JSON reader takes it
        if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
            return None, "text contains a lone surrogate (\\ud800-\\udfff), which UTF-8 cannot encode"
        return value, None


def _unsupported_tag(tag: str) -> str:
    shown = "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag
    return (f"YAML tag '{_clip(shown)}' is not supported: values are text, numbers, booleans, null, "
            "mappings and lists")


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def load(text: str, file: str, sink: ErrorSink) -> Node | None:
    """Parse one flow file. YAML syntax problems go to `sink` with their position; None then."""
    source = Source(text)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks every character first: may raise ReaderError
        documents: list[yaml.Node] = []
        while loader.check_node():
            document = loader.get_node()
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = source.line_col(mark.index) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        prefix = "YAML" if isinstance(exc, _LimitError) else "YAML syntax"
        sink.add(Location(file, line, col), f"{prefix}: {problem}")
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        sink.add(Location(file, *source.line_col(exc.position)), f"YAML: unacceptable character {char}: {exc.reason}")
        return None
    except yaml.YAMLError as exc:  # unmarked errors: still a clean message
        sink.add(Location(file, 1, 1), f"YAML: {exc}")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if not documents:
        sink.add(Location(file, 1, 1), "the file is empty: a flow needs 'flow', 'version' and 'steps'")
        return None
    builder = _Builder(file, sink, source, loader.tagged)
    if len(documents) > 1:
        sink.add(builder.loc(documents[1]), "one flow per file: found a second document")
    root = builder.build(documents[0])
    if not isinstance(root.value, dict):
        if not root.invalid:
            sink.add(root.loc, "a flow file must be a mapping with 'flow', 'version' and 'steps'")
        return None
    return root
