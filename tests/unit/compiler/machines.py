"""Every flow the checks on compiled machines run over: the example flows, the flows written for the
integration tests, the complete flows in docs/dsl.md and a few shapes none of those has."""

from __future__ import annotations

from tests.conftest import FLOWS, ROOT
from tests.unit.compiler.test_docs_dsl import VALID

TEST_FLOWS = sorted((ROOT / "tests" / "integration" / "flows").glob("*.yaml"))

RETURN = ", allow: [return]"
_APPROVAL = "{{id: {id}, type: approval, approvers: {{role: x}}, timeout: none{extra}}}"


def _approval(step_id: str, extra: str = "") -> str:
    return _APPROVAL.format(id=step_id, extra=extra)


EDGE = {
    # Nothing rejects or withdraws without an approval, nothing fails without an action.
    "no-approval": "flow: no-approval\nversion: 1\nsteps:\n  - {id: tell, type: notify, to: {role: x}}\n"
                   "  - {id: go, type: action, function: Go, compensate: Undo}\n"
                   "on_rejected:\n  - action: {function: Never}\non_withdrawn:\n  - action: {function: Never}\n",
    "only-a-wait": "flow: only-a-wait\nversion: 1\nsteps:\n  - {id: hold, type: wait, duration: 1h}\n",
    "empty-branches": "flow: empty-branches\nversion: 1\ninput: {n: {type: number, required: true}}\nsteps:\n"
                      "  - id: route\n    type: branch\n    when: n > 0\n    cases:\n      - {when: n > 1, steps: []}\n"
                      "      - {when: n > 2, steps: [{id: ping, type: notify, to: {role: x}}]}\n",
    "parallel-notifies": "flow: parallel-notifies\nversion: 1\nsteps:\n  - id: both\n    type: parallel\n"
                         "    branches:\n      - [{id: a, type: notify, to: {role: x}}]\n"
                         "      - [{id: b, type: action, function: Go}]\n",
    "returns-everywhere": "flow: returns-everywhere\nversion: 1\nsteps:\n"
                          f"  - {_approval('first')}\n"
                          "  - id: outer\n    type: parallel\n    branches:\n"
                          f"      - [{_approval('left', RETURN)}, {_approval('left-2', RETURN)}]\n"
                          "      - - id: inner\n          type: parallel\n          branches:\n"
                          f"            - [{_approval('deep', RETURN)}]\n"
                          "            - [{id: act, type: action, function: Go}]\n"
                          f"  - {_approval('last', RETURN)}\n",
    # Found by bench/compiler_fuzz.py: an approval in a parallel inside a branch's case was a return
    # target of the steps after the branch, which no catcher could route to (a traceback since).
    "return-past-a-parallel-in-a-branch": "flow: return-past-a-parallel-in-a-branch\nversion: 1\n"
                                          "input: {n: {type: number, required: true}}\nsteps:\n"
                                          "  - id: route\n    type: branch\n    cases:\n      - when: n > 1\n"
                                          "        steps:\n          - id: both\n            type: parallel\n"
                                          "            branches:\n"
                                          f"              - [{_approval('inside')}]\n"
                                          "              - [{id: other, type: notify, to: {role: x}}]\n"
                                          f"          - {_approval('beside')}\n"
                                          f"  - {_approval('after', RETURN)}\n",
}


def sources() -> list[tuple[str, str]]:
    """(id, flow text) of every flow to compile."""
    found = [(p.stem, p.read_text(encoding="utf-8")) for p in [*FLOWS, *TEST_FLOWS]]
    found += [(f"docs-{b.name}", b.text) for b in VALID]
    return found + sorted(EDGE.items())
