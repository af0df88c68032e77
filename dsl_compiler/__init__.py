"""The approval DSL compiler: load -> validate -> conditions -> IR -> ASL + manifest."""

from __future__ import annotations

from .errors import CompileError, DslError
from .pipeline import CompiledFlow, compile_file, compile_text, validate_files
from .preview import preview

__all__ = ["CompileError", "CompiledFlow", "DslError", "compile_file", "compile_text", "preview", "validate_files"]
