"""preview(): which steps an input would run, by the Python twin of the Choice rules."""

from __future__ import annotations

from typing import Any

import pytest

from dsl_compiler import compile_file, preview
from tests.conftest import ROOT


def runs(flow: str, data: dict[str, Any], requester: str = "ann") -> dict[str, bool]:
    ir = compile_file(ROOT / "flows" / f"{flow}.yaml").ir
    return {row["step"]: row["runs"] for row in preview(ir, data, requester)}


def test_short_leave_skips_the_director() -> None:
    assert runs("leave-request", {"days": 1, "start_date": "2026-12-01"}) == {
        "manager": True,
        "director": False,
        "hr": True,
    }


@pytest.mark.parametrize(
    ("amount", "urgent", "board", "finance"),
    [
        (500, False, False, False),
        (50000, False, False, True),
        (2000000, False, True, False),
        (2000000, True, False, True),
    ],
)
def test_purchase_order_amount_routing(amount: int, urgent: bool, board: bool, finance: bool) -> None:
    data = {"amount": amount, "vendor": "v", "cost_center": "c", "urgent": urgent}
    result = runs("purchase-order", data)
    assert (result["board"], result["finance"]) == (board, finance)
    # new_vendor defaults to false, so the security review is skipped
    assert result["legal"] is True and result["security"] is False


def test_absent_optional_field_reads_false() -> None:
    # `region` is required in the flow, but preview must not fail when it is absent.
    result = runs("contract-review", {"counterparty": "ACME Ltd", "value": 10})
    assert result["eu-privacy"] is False


def test_approvers_and_mode_are_reported() -> None:
    ir = compile_file(ROOT / "flows" / "purchase-order.yaml").ir
    rows = {row["step"]: row for row in preview(ir, {"amount": 2000000, "vendor": "v", "cost_center": "c"})}
    assert rows["board"]["approvers"] == [{"users": ["ceo", "cfo", "cto"]}]
    assert rows["board"]["mode"] == {"quorum": 2}
    assert rows["managers"]["mode"] == "sequential"
