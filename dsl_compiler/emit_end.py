"""The end of a run, after the steps (part of stage 4, emit.py): the outcome states, the
`on_<outcome>` actions, the compensations (saga), the FinishFunction Task and the requester's
resubmission after a return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from approvals.contract.names import RUN_KEPT, ApprovalError, result_key

from .asl import FINISH, OPEN_STEP, RESUBMIT_STEP, ROOT
from .definition import transitions
from .ir import RESUBMIT_TIMEOUT, BranchNode, ParallelNode

if TYPE_CHECKING:
    from .emit import Emitter


def routed(em: Emitter) -> set[str]:
    """Every state some state emitted so far can go to."""
    return {target for scope in em.scopes.values() for state in scope.states.values()
            for target in transitions(state)}


def outcome_tail(em: Emitter, first_step: str) -> None:
    states = em.scopes[ROOT].states
    # Only the outcomes something leads to: without an approval nothing rejects or withdraws, and
    # AWS refuses a state nothing reaches. (The resubmission, written last, fails into `failed`.)
    targets = routed(em) | ({em.outcome["failed"]} if em.ir.needs_resubmission else set())
    reached = [o for o in ("approved", "rejected", "withdrawn", "failed") if em.outcome[o] in targets]
    on_entry: dict[str, str] = {}
    for outcome in ("approved", "rejected", "withdrawn"):
        if outcome in reached:
            on_entry[outcome] = on_outcome_chain(em, outcome)
    undo_entry = compensation_chain(em, on_entry, failed="failed" in reached)
    for outcome in reached:
        record = em.record_failure if outcome == "failed" else em.record
        then = on_entry.get(outcome, record) if outcome == "approved" or undo_entry is None else undo_entry
        states[em.outcome[outcome]] = {"Type": "Pass", "Result": outcome, "ResultPath": "$.outcome", "Next": then}
    em.add(ROOT, em.record, record_state(em), None)
    if "failed" in reached:
        # Its own Finish, so that the outcomes that end well need no Choice after theirs: the
        # execution itself fails only when the run did (the failed-executions alarm means something broke).
        failed = em.unique("Approval failed")
        em.add(ROOT, em.record_failure, record_state(em), failed)
        states[failed] = {"Type": "Fail", "Error": ApprovalError.FAILED.value,
                          "Cause": "an action or a step failed; see the history"}
    if em.ir.needs_resubmission:
        resubmission(em, first_step)


def record_state(em: Emitter) -> dict[str, Any]:
    finish = em.invoke(FINISH, finish_payload(em))
    finish["ResultPath"] = None
    # Recording the outcome also archives the approval: worth retrying whatever went wrong,
    # and safe to (the function does nothing twice).
    finish["Retry"] = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0}]
    return finish


def on_outcome_chain(em: Emitter, outcome: str) -> str:
    actions = em.ir.on_actions.get(outcome, ())
    names = [em.unique(f"On {outcome}: {a.function}") for a in actions]
    for i, (action, name) in enumerate(zip(actions, names, strict=True)):
        key = f"on_{outcome}_{i + 1}"
        state = em.action_state(action, f"on_{outcome}")
        state["ResultPath"] = f"$.actions.{key}"
        after = names[i + 1] if i + 1 < len(names) else em.record
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.failures.{key}", "Next": after}]
        em.add(ROOT, name, state, after)
    return names[0] if names else em.record


def compensation_chain(em: Emitter, on_entry: dict[str, str], failed: bool) -> str | None:
    """Undo the actions that succeeded, last first, then go on by outcome."""
    if not em.compensations:
        return None
    states = em.scopes[ROOT].states
    checks = [em.unique(f"Undo {node.id}?") for node, _ in reversed(em.compensations)]
    undos = [em.unique(f"Undo {node.id}") for node, _ in reversed(em.compensations)]
    routes = [(o, on_entry[o]) for o in ("rejected", "withdrawn") if on_entry.get(o, em.record) != em.record]
    if failed:
        routes.append(("failed", em.record_failure))
    after = em.record
    if routes:
        after = em.unique("After compensation")
        choices = [{"Variable": "$.outcome", "StringEquals": o, "Next": t} for o, t in routes]
        states[after] = {"Type": "Choice", "Choices": choices, "Default": em.record}
    for i, (node, path) in enumerate(reversed(em.compensations)):
        nxt = checks[i + 1] if i + 1 < len(checks) else after
        rule = {"Variable": path, "IsPresent": True, "Next": undos[i]}
        states[checks[i]] = {"Type": "Choice", "Choices": [rule], "Default": nxt}
        assert node.compensate is not None
        payload = {**em.context(), "step": node.id, "result.$": f"{path}.value"}
        undo = em.invoke(node.compensate, payload)
        undo["ResultPath"] = None
        undo["Retry"] = [
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}
        ]
        key = result_key(node.id)
        undo["Catch"] = [
            {"ErrorEquals": ["States.ALL"], "ResultPath": f"$.compensation_failures.{key}", "Next": nxt}
        ]
        em.add(ROOT, undos[i], undo, nxt)
    return checks[0]


def finish_payload(em: Emitter) -> dict[str, Any]:
    return {
        **em.context(),
        "outcome.$": "$.outcome",
        # Leaf steps only: a branch or parallel is not a step anyone sees in the approval.
        "steps": [n.id for n in em.ir.walk() if not isinstance(n, BranchNode | ParallelNode)],
        "cc": list(em.ir.cc),
        "notify": {o: outcome_notify(em, o, v) for o, v in em.ir.notify.items() if v},
        # What the run kept, not the whole state: the approval and its input are in the table.
        **{f"{kept}.$": f"$.{kept}" for kept in RUN_KEPT},
    }


def outcome_notify(em: Emitter, outcome: str, to: tuple[Any, ...]) -> dict[str, Any]:
    """`{"to": [specs], "message": text}` for an outcome's notifies; no `message` when the flow
    gave none. (Machines compiled before the message was passed on send the bare list of specs.)"""
    found: dict[str, Any] = {"to": list(to)}
    message = em.ir.notify_messages.get(outcome)
    if message is not None:
        found["message"] = message
    return found


def resubmission(em: Emitter, first_step: str) -> None:
    payload = {
        "task_token.$": "$$.Task.Token",
        "entered_at.$": "$$.State.EnteredTime",
        **em.context(),
        "kind": "resubmit",
        "step": RESUBMIT_STEP,
        "stage": 0,
        "spec": {
            "title": "Resubmission",
            "approvers": [{"requester": True}],
            "mode": "any",
            "timeout_seconds": RESUBMIT_TIMEOUT,
            "remind_seconds": [],
            "allow": [],
            "return_to": [],
        },
        "settings": {},  # a resubmission is the requester's: never auto-approved, never unstaffed
    }
    state = em.invoke(OPEN_STEP, payload, token=True)
    state["ResultPath"] = "$.input"
    state["TimeoutSeconds"] = RESUBMIT_TIMEOUT
    state["Retry"] = em.runtime_retry()
    state["Catch"] = [
        {
            "ErrorEquals": ["States.Timeout", ApprovalError.WITHDRAWN.value],
            "ResultPath": "$.error",
            "Next": em.outcome["withdrawn"],
        },
        *em.fails(ROOT),
    ]
    em.add(ROOT, em.resubmit, state, first_step)
