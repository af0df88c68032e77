"""One error hierarchy for every stage: each problem carries file, line and column."""

from __future__ import annotations

from dataclasses import dataclass, field

# What str.splitlines() breaks at: any of these in a message would split its report line in two.
_BREAKS = {c: c.encode("unicode_escape").decode() for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
_ONE_LINE = str.maketrans(_BREAKS)


def one_line(text: str) -> str:
    """`text` with its line breaks escaped (`\\n`), so that a report stays one line."""
    return text.translate(_ONE_LINE)


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True)
class DslError:
    """One problem in one flow file, reported as `FILE:LINE:COL: error: MESSAGE`."""

    location: Location
    message: str

    def __post_init__(self) -> None:
        # Messages echo values from the flow (and YAML's own text), which may hold line breaks.
        loc = self.location
        object.__setattr__(self, "message", one_line(self.message) or "invalid flow")
        object.__setattr__(self, "location", Location(one_line(loc.file), loc.line, loc.col))

    def __str__(self) -> str:
        loc = self.location
        return f"{loc.file}:{loc.line}:{loc.col}: error: {self.message}"


@dataclass
class ErrorSink:
    """Collects every problem of a stage so all of them are reported, not only the first."""

    errors: list[DslError] = field(default_factory=list)

    def add(self, location: Location, message: str) -> None:
        self.errors.append(DslError(location, message))

    def sorted(self) -> list[DslError]:
        # Stable report order: by position, then message.
        return sorted(set(self.errors), key=lambda e: (e.location, e.message))

    def __bool__(self) -> bool:
        return bool(self.errors)


class CompileError(Exception):
    """Raised by the pipeline when a flow has problems; carries all of them."""

    def __init__(self, errors: list[DslError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
