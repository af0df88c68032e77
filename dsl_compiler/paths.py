"""The JSONPaths the machine reads the request with (`$.input.<field>...`, `$.requester`), and
which names such a path can carry.

AWS reads a dot step (`$.input.days`) only for names of JSONPath's member-name-shorthand; other
names need bracket notation (`$.input['my field']`). statelint, which every compiled machine
must pass (tests/unit/compiler), takes a bracket step only for the names it takes in a dot step,
a letter then letters, digits and connectors such as `_`: brackets would buy nothing, so a name
outside that set cannot be read by a path at all and is a located error where a path would need
it (an action's input mapping, a wait's `until`, a condition).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

# statelint's name (statelint/utils/re_helper.py): a letter first, then letters, marks, digits, connectors.
_FIRST = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_NEXT = _FIRST | {"Mn", "Mc", "Nd", "Pc"}
NAME_RULE = "a path step is a letter, then letters, digits or '_'"


def is_path_name(name: str) -> bool:
    """Whether `name` can be a step of a Step Functions path (dot notation, which needs no quoting)."""
    return (
        bool(name)
        and unicodedata.category(name[0]) in _FIRST
        and all(unicodedata.category(c) in _NEXT for c in name[1:])
    )


def unreadable(name: str) -> str:
    """The message for a field name no path can name."""
    shown = name if len(name) <= 40 else name[:40] + "..."
    return f"field name '{shown}' cannot be read by a Step Functions path ({NAME_RULE})"


def json_path(root: str, names: Sequence[str]) -> str:
    """`root.name1.name2...`; the validator has refused every name that is not a path name."""
    bad = next((n for n in names if not is_path_name(n)), None)
    if bad is not None:
        raise ValueError(unreadable(bad) + " (run check first)")
    return ".".join((root, *names))


def input_path(names: Sequence[str]) -> str:
    """Where a request field (or a path into an object field) is in the execution's state."""
    return json_path("$.input", names)
