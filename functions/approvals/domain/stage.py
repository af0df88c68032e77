"""A human stage with its dynamic changes: added signers (加签), transfers (转交), returns (退回).

The stage's rule (`mode`) is over its assignees. An added signer hangs off the participant who
added them: that participant's say counts as approve only once they and every signer they added
approved, and as reject as soon as one of them rejected. Order: a `before` signer decides before
the adder, an `after` signer once the adder approved, a `parallel` signer any time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .errors import ActionNotAllowed, AlreadyDecided, InvalidInput, NotAllowed, NotReturnable
from .model import SIGNER_POSITIONS, AddedSigner, Decision, Outcome, Step, StepStatus, Transfer
from .rules import may_decide, parse_mode, settle


def own_decisions(stage: Step) -> dict[str, Decision]:
    """Participant -> their own decision, in the order made."""
    return {d.user: d.decision for d in stage.decisions}


def _signers_of(stage: Step, user: str) -> list[AddedSigner]:
    return [s for s in stage.signers if s.by == user]


def _effective(stage: Step, user: str, own: dict[str, Decision], seen: frozenset[str] = frozenset()) -> Decision | None:
    if user in seen:  # cannot happen through add_signers (no one is added twice); be safe anyway
        return None
    results = [own.get(user)] + [_effective(stage, s.user, own, seen | {user}) for s in _signers_of(stage, user)]
    if any(r is Decision.REJECT for r in results):
        return Decision.REJECT
    if all(r is Decision.APPROVE for r in results):
        return Decision.APPROVE
    return None


def effective_decisions(stage: Step) -> dict[str, Decision]:
    """Assignee -> the decision their group has reached, ordered by when it was reached."""
    own = own_decisions(stage)
    order = {d.user: i for i, d in enumerate(stage.decisions)}
    reached: list[tuple[int, str, Decision]] = []
    for user in stage.assignees:
        decision = _effective(stage, user, own)
        if decision is None:
            continue
        group = [user, *_group_members(stage, user)]
        positions = [order[u] for u in group if u in order]
        reached.append((max(positions) if positions else -1, user, decision))
    return {user: decision for _, user, decision in sorted(reached)}


def _group_members(stage: Step, user: str) -> list[str]:
    members: list[str] = []
    for s in _signers_of(stage, user):
        if s.user not in members:
            members.append(s.user)
            members += [m for m in _group_members(stage, s.user) if m not in members]
    return members


def outcome(stage: Step) -> Outcome:
    return settle(stage.mode, stage.assignees, effective_decisions(stage))


def ready(stage: Step) -> list[str]:
    """Participants who may decide now (and so may add signers, transfer or return)."""
    if outcome(stage) is not Outcome.OPEN:
        return []
    own = own_decisions(stage)
    found: list[str] = []

    def walk(user: str) -> None:
        group = _signers_of(stage, user)
        for s in group:
            if s.position in ("before", "parallel") or own.get(user) is Decision.APPROVE:
                walk(s.user)
        befores = [s for s in group if s.position == "before"]
        if user not in own and all(_effective(stage, s.user, own) is Decision.APPROVE for s in befores):
            if user not in found:
                found.append(user)

    for assignee in may_decide(stage.mode, stage.assignees, effective_decisions(stage)):
        walk(assignee)
    return found


def check_turn(stage: Step, user: str) -> None:
    """Raise unless `user` (the participant a decision counts for) may decide now."""
    if user in ready(stage):
        return
    if user in own_decisions(stage):
        raise AlreadyDecided(f"{user} already decided on {stage.step}")
    if user in stage.participants:
        raise NotAllowed(f"it is not {user}'s turn on {stage.step}")
    raise NotAllowed(f"{user} is not an assignee of {stage.step}")


def _allowed(stage: Step, action: str) -> None:
    if action not in stage.allow:
        raise ActionNotAllowed(f"step {stage.step} does not allow {action}")


def add_signers(stage: Step, by: str, users: Sequence[str], position: str, at: str) -> Step:
    """The stage with `users` added by `by` at `position`. Directory checks are the caller's."""
    _allowed(stage, "add_signer")
    if position not in SIGNER_POSITIONS:
        raise InvalidInput(f"position must be one of {', '.join(SIGNER_POSITIONS)}",
                           [{"field": "position", "problem": f"{position!r} is not before, after or parallel"}])
    if not users or any(not isinstance(u, str) or not u for u in users):
        raise InvalidInput("users must be a non-empty list of user ids",
                           [{"field": "users", "problem": "a non-empty list of user ids is required"}])
    if len(set(users)) != len(users):
        raise InvalidInput("a user is listed twice", [{"field": "users", "problem": "duplicates"}])
    taken = [u for u in users if u in stage.participants]
    if taken:
        raise InvalidInput("already on this stage",
                           [{"field": "users", "problem": f"{u!r} is already on this stage"} for u in taken])
    check_turn(stage, by)
    added = [AddedSigner(user=u, position=position, by=by, at=at) for u in users]
    return replace(stage, signers=[*stage.signers, *added])


def transfer(stage: Step, by: str, to: str, actor: str, at: str) -> Step:
    """The stage with `to` in `by`'s place (same position, same added signers)."""
    _allowed(stage, "transfer")
    if to == by:
        raise InvalidInput("cannot transfer to oneself", [{"field": "to", "problem": "is the caller"}])
    if to in stage.participants:
        raise InvalidInput("already on this stage", [{"field": "to", "problem": f"{to!r} is already on this stage"}])
    check_turn(stage, by)
    assignees = [to if u == by else u for u in stage.assignees]
    signers = [replace(s, user=to if s.user == by else s.user, by=to if s.by == by else s.by) for s in stage.signers]
    delegates = {k: v for k, v in stage.delegates.items() if k != by}
    return replace(stage, assignees=assignees, signers=signers, delegates=delegates,
                   transfers=[*stage.transfers, Transfer(from_user=by, to_user=to, actor=actor, at=at)])


REQUESTER = "requester"


def check_return(stage: Step, by: str, to_step: str, ran: Sequence[str]) -> str:
    """The error name that sends the run back to `to_step`; raises if it may not go there.
    `ran` are the human steps that opened in this approval."""
    _allowed(stage, "return")
    if to_step not in stage.return_to:
        raise InvalidInput(f"{stage.step} cannot return to {to_step!r}",
                           [{"field": "to_step", "problem": f"not one of {', '.join(stage.return_to) or 'nothing'}"}])
    if to_step != REQUESTER and (to_step == stage.step or to_step not in ran):
        raise NotReturnable(f"step {to_step} has not run in this approval")
    check_turn(stage, by)
    return f"Approval.Returned.{to_step}"


@dataclass(frozen=True)
class Tally:
    """A stage that decisions settle by counting alone (all, any, quorum, percent; no added signers):
    approvals reaching `needed` approve it, rejections reaching `reject_limit` reject it. So a
    decision can be counted on the stage item by itself, against those two thresholds, without
    reading or ordering the others."""

    needed: int
    reject_limit: int

    def decides(self, decision: Decision, approvals: int, rejections: int) -> bool:
        """Does `decision`, counted after `approvals` and `rejections`, settle the stage?"""
        if decision is Decision.APPROVE:
            return approvals + 1 >= self.needed
        return rejections + 1 >= self.reject_limit

    def vote_limits(self, decision: Decision) -> tuple[int, int]:
        """The counts of approvals and of rejections must both stay below these for `decision` to be
        counted by itself (store.vote's condition): counted, it reaches neither threshold."""
        if decision is Decision.APPROVE:
            return self.needed - 1, self.reject_limit
        return self.needed, self.reject_limit - 1


def tally(stage: Step) -> Tally | None:
    """The stage's counting thresholds, or None when who may decide depends on the order of
    decisions (sequential, added signers) or the stage is not a decision stage."""
    rule = parse_mode(stage.mode)
    if stage.kind != "approval" or rule.kind == "sequential" or stage.signers or not stage.assignees:
        return None
    needed = rule.required(len(stage.assignees))
    # `any`: the first decision settles it either way; otherwise rejected once approvals can no longer reach needed.
    reject_limit = 1 if rule.kind == "any" else len(stage.assignees) - needed + 1
    return Tally(needed=needed, reject_limit=reject_limit)


def counts(stage: Step) -> tuple[int, int]:
    """Approvals and rejections among the participants' own decisions (what the stage item counts)."""
    own = own_decisions(stage)
    return (sum(1 for d in own.values() if d is Decision.APPROVE), sum(1 for d in own.values() if d is Decision.REJECT))


def waiting_for(stage: Step | None) -> list[str]:
    """Who has the stage in their inbox: the participants who may decide now, while it is open."""
    if stage is None or stage.status is not StepStatus.OPEN:
        return []
    return ready(stage)
