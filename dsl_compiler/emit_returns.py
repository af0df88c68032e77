"""Returns (退回), part of stage 4 (emit.py): how `Approval.Returned.<step>` reaches the step.

A catcher per target on every stage that may return grows the definition with the square of the
approvals (the k-th of N can return to the k-1 before it) and AWS takes at most 1 MB. So each such
stage has one catcher, `States.ALL` into `$.returned`, whatever its targets, and each scope (the
machine, each Parallel branch) one router Choice with a rule per step of that scope that something
returns to: linear in the steps.

- The router sends `Approval.Returned.<t>` to `t`'s Task (or the resubmission, `requester`).
- A return to a step outside a Parallel branch leaves it as `Approval.Returning` with the original
  name as its cause (one fixed name, so that the Parallel needs one catcher, not one per target);
  the Parallel's catcher and a Pass put the name back in `$.returned.Error` for the router outside.
- Any other error a stage's `States.ALL` caught (a reject or withdraw that leaves a branch, a failed
  OpenStepFunction) is raised again as it was (`ErrorPath`), so it goes where it went without the
  catcher; in the machine's own scope, where nothing else would catch it, it ends the run `failed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from approvals.contract.names import returned_error

from .asl import RETURNING, ROOT, RUNTIME_ERROR, State
from .ir import RESUBMIT

if TYPE_CHECKING:
    from .emit import Emitter

RETURNED = "$.returned"  # where a stage's catcher keeps the error it caught: {"Error", "Cause"}
_ANY_RETURN = "Approval.Returned.*"  # StringMatches: only `*` is special


def _in_scope(em: Emitter, scope: int, text: str) -> str:
    label = em.scopes[scope].label
    return f"{label} {text}" if label else text[:1].upper() + text[1:]


def router(em: Emitter, scope: int) -> str:
    """The name of the scope's router (its state is written when the scope is done: `close`)."""
    sc = em.scopes[scope]
    if sc.router is None:
        sc.router = em.unique(_in_scope(em, scope, "returned to?"))
    return sc.router


def stage_catcher(em: Emitter, scope: int, return_to: tuple[str, ...]) -> State:
    """The one catcher of a stage that may return to `return_to`; it must come last."""
    for target in return_to:
        home = ROOT if target == RESUBMIT else em.ir.scopes_of[target]
        em.scopes[home].returns[returned_error(target)] = em.resubmit if target == RESUBMIT else em.task[target]
        inner = scope
        while inner != home:  # every scope in between passes the return on, through its router
            router(em, inner)
            em.scopes[inner].returns_out = True
            parent = em.scopes[inner].parent
            assert parent is not None  # a target is in this scope or in one around it
            inner = parent
        router(em, home)
    return {"ErrorEquals": ["States.ALL"], "ResultPath": RETURNED, "Next": router(em, scope)}


def close(em: Emitter, scope: int) -> None:
    """Write the scope's router and its Fail states, if anything in the scope returns."""
    sc = em.scopes[scope]
    if sc.router is None:
        return
    rules: list[State] = [{"Variable": f"{RETURNED}.Error", "StringEquals": error, "Next": target}
                          for error, target in sc.returns.items()]
    if sc.returns_out:
        out = em.unique(_in_scope(em, scope, "returns further out"))
        rules.append({"Variable": f"{RETURNED}.Error", "StringMatches": _ANY_RETURN, "Next": out})
        sc.states[out] = {"Type": "Fail", "Error": RETURNING, "CausePath": f"{RETURNED}.Error"}
    other = em.unique(_in_scope(em, scope, "not a return"))
    sc.states[sc.router] = {"Type": "Choice", "Choices": rules, "Default": other}
    if scope == ROOT:  # a failed step: the run ends `failed`, the error kept as its reason
        sc.states[other] = {"Type": "Pass", "InputPath": RETURNED, "ResultPath": RUNTIME_ERROR,
                            "Next": em.outcome["failed"]}
    else:  # raised again as it was, to go where it went without the catcher
        sc.states[other] = {"Type": "Fail", "ErrorPath": f"{RETURNED}.Error",
                            "CausePath": f"States.JsonToString({RETURNED})"}


def parallel_catcher(em: Emitter, scope: int, name: str, branch_scopes: tuple[int, ...]) -> dict[str, State]:
    """The Parallel's catcher of the returns that leave its branches (`{}` if none do) and, by its
    name, the Pass it leads to, which hands the returned step's error name to the scope's router."""
    if not any(em.scopes[b].returns_out for b in branch_scopes):
        return {}
    back = em.unique(f"{name} returned")
    return {
        "catcher": {"ErrorEquals": [RETURNING], "ResultPath": RETURNED, "Next": back},
        back: {"Type": "Pass", "Parameters": {"Error.$": f"{RETURNED}.Cause"}, "ResultPath": RETURNED,
               "Next": router(em, scope)},
    }


# The stages' `return_to` lists (the runtime checks a return against the stage's) are read from
# lists the machine keeps once, in the state: listed in every Task payload they would grow with the
# square of the approvals too. A stage's list is its earlier approvals in order, so it is a prefix
# of the list of the sequence it is in, and `requester` goes first to keep it one.
TARGETS = "$.return_targets"


def return_to_param(em: Emitter, return_to: tuple[str, ...]) -> str:
    """The intrinsic that reads a stage's `return_to` (`requester` first) from the kept lists."""
    assert return_to[-1] == RESUBMIT
    targets = list(return_to[:-1])
    lists = em.return_lists
    i = next((i for i, kept in enumerate(lists) if kept[: len(targets)] == targets or targets[: len(kept)] == kept),
             len(lists))
    if i == len(lists):
        lists.append(targets)
    lists[i].extend(targets[len(lists[i]):])  # the later stages of a sequence see more targets
    return f"States.ArrayGetItem(States.ArrayPartition({TARGETS}.r{i + 1}, {len(targets) + 1}), 0)"


def targets_state(em: Emitter, first: str) -> dict[str, State]:
    """The Pass that keeps the lists, before the first step (`{}` when nothing returns)."""
    if not em.return_lists:
        return {}
    kept = {f"r{i + 1}": [RESUBMIT, *targets] for i, targets in enumerate(em.return_lists)}
    return {em.unique("Return targets"): {"Type": "Pass", "Result": kept, "ResultPath": TARGETS, "Next": first}}
