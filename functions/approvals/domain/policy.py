"""Who may see an approval, who acts for whom, and when reminders are due: pure rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .directory import Directory, parse_time
from .errors import ApprovalFinished, NotAllowed, NotFound, NotRequester, TooSoon
from .model import Approval, ApprovalStatus, Step, StepStatus

ADMIN_ROLE = "admin"
# The requester may nudge the people of one open step at most this often.
REMIND_EVERY = timedelta(hours=1)


def is_admin(directory: Directory | None, user: str) -> bool:
    found = directory.users.get(user) if directory is not None else None
    return found is not None and ADMIN_ROLE in found.roles


def can_see(approval: Approval, user: str, directory: Directory | None, at: datetime) -> bool:
    """The requester, anyone who was ever on a stage (asked, added, transferred away, or acting),
    whoever stands in for one of them right now, and the tenant's admins."""
    if user == approval.requester or is_admin(directory, user):
        return True
    people = approval.participants_ever()
    if user in people:
        return True
    standing_in_for = directory.acting_for(user, at) if directory is not None else []
    return any(source in people for source in standing_in_for)


def check_visible(approval: Approval, user: str, directory: Directory | None, at: datetime) -> None:
    """NotFound (not NotAllowed) for someone who may not see it: existence is not revealed."""
    if not can_see(approval, user, directory, at):
        raise NotFound(f"approval {approval.id} not found")


def check_requester(approval: Approval, user: str, action: str) -> None:
    if user != approval.requester:
        raise NotRequester(f"only the requester may {action}")


def check_requester_of_running(approval: Approval, user: str, action: str) -> None:
    """What the requester may do only while the approval runs (withdraw, remind)."""
    check_requester(approval, user, action)
    if approval.status is not ApprovalStatus.RUNNING:
        raise ApprovalFinished(f"approval {approval.id} is {approval.status.value}")


def counts_for(stage: Step, user: str, directory: Directory | None, at: datetime) -> str:
    """The participant a decision or action by `user` counts for: themself, or the one they stand
    in for (a delegation active now, or the one recorded when the stage opened)."""
    if user in stage.participants:
        return user
    sources = list(directory.acting_for(user, at)) if directory is not None else []
    sources += [who for who, delegate in stage.delegates.items() if delegate == user]
    for source in sources:
        if source in stage.participants:
            return source
    raise NotAllowed(f"{user} is not an assignee of {stage.step}")


def delegates_at_open(assignees: Iterable[str], directory: Directory, at: datetime) -> dict[str, str]:
    """Assignee -> who stands in for them while they are away, resolved when the stage opens."""
    found: dict[str, str] = {}
    for user in assignees:
        delegate = directory.delegate_of(user, at)
        if delegate:
            found[user] = delegate
    return found


def remind_wait(last: str | None, at: datetime) -> int:
    """Seconds until the requester may remind again about a stage last reminded at `last` (0: now)."""
    if not last:
        return 0
    left = parse_time(last) + REMIND_EVERY - at
    return max(0, int(left.total_seconds() + 0.999))


def check_remind(stages: Iterable[Step], at: datetime) -> list[Step]:
    """The open stages a manual reminder goes to now; TooSoon if every one was reminded within the hour."""
    stages = [s for s in stages if s.status is StepStatus.OPEN]
    due = [s for s in stages if remind_wait(s.last_reminded_at, at) == 0]
    if stages and not due:
        wait = min(remind_wait(s.last_reminded_at, at) for s in stages)
        raise TooSoon(f"reminded within the last hour; try again in {wait}s", retry_after=wait)
    return due


def next_reminder(stage: Step) -> str | None:
    """When the next scheduled reminder (`remind_seconds` after opening) is due, if any is left."""
    if stage.status is not StepStatus.OPEN or not stage.opened_at:
        return None
    if stage.reminders_sent >= len(stage.remind_seconds):
        return None
    due = parse_time(stage.opened_at) + timedelta(seconds=int(stage.remind_seconds[stage.reminders_sent]))
    return due.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reminders_passed(stage: Step, at: datetime) -> int:
    """How many of the stage's scheduled reminders are due by `at` (counting those already sent)."""
    if not stage.opened_at:
        return stage.reminders_sent
    opened = parse_time(stage.opened_at)
    passed = sum(1 for s in stage.remind_seconds if opened + timedelta(seconds=int(s)) <= at)
    return max(passed, stage.reminders_sent)
