"""Colour and progress only at a terminal; pipes get the exact contract text."""

from __future__ import annotations

import io

import pytest

from dsl_compiler.terminal import error_line, progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_text_when_not_a_terminal() -> None:
    stream = io.StringIO()
    assert error_line("f.yaml:1:2", "boom", stream) == "f.yaml:1:2: error: boom"
    assert list(progress([1, 2, 3], "flows", stream)) == [1, 2, 3]
    assert stream.getvalue() == ""


def test_colour_and_progress_at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = Tty()
    assert error_line("f.yaml:1:2", "boom", stream) == "\033[1mf.yaml:1:2\033[0m: \033[31merror\033[0m: boom"
    assert list(progress(["a", "b"], "flows compiled", stream)) == ["a", "b"]
    assert stream.getvalue().endswith("2/2 flows compiled\n") and "\r[" in stream.getvalue()


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert error_line("f:1:1", "x", Tty()) == "f:1:1: error: x"
