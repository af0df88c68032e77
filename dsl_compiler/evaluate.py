"""Reference evaluator for conditions: the meaning the compiled Choice rules must have.

The meaning itself is the contract's (`approvals.contract.conditions.evaluate`, on the tree the
manifest carries), so that the CLI's preview, the API's preview and the property test that runs
the Choice rules all use one evaluator; it is kept independent of `choice.py` so that the two can
be tested against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from approvals.contract.conditions import evaluate as evaluate_tree

from .conditions import Expr
from .spec import condition_tree


def evaluate(expr: Expr, context: Mapping[str, Any]) -> bool:
    """Evaluate a parsed, checked condition against `{"input": {...}, "requester": "..."}`."""
    return evaluate_tree(condition_tree(expr), context)
