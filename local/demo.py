"""`python -m local.demo` (`make demo`): compile the example flows, start the local stack with the
local gateway in front of it (what `make serve` runs), and play five short scenarios through the
HTTP API as the people of flows/directory.yaml would, each with their own token:

  approve     ann's 2-day leave: her manager bob, then HR (ivy) approve
  reject      ann's 50 000 USD purchase order: the manager chain approves, finance (frank) rejects
  escalation  ann asks for write access; bob (team lead) does not answer within 8h, so it goes to
              carol, his manager; security approves; access is granted and ann is told
  add signer  a contract: legal reviewer gina asks dave to sign before her; the committee approves
  withdraw    ann withdraws a travel claim while it waits for the department head

After each, its timeline as the approval's history tells it (GET /approvals/{id}/history), then
one summary line per scenario. An hour of flow time is a second here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .client import Client
from .deploy import ROOT
from .gateway import Gateway
from .stack import MotoStack

# The team lead's 8h timeout becomes 8 s, so the escalation scenario ends in about 12 s, while
# the shortest timeout the other scenarios meet (security, 4h) still leaves 4 s to answer in.
TIME_SCALE = 3600
_T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _T0:6.2f}s] {text}", flush=True)


def compile_flows() -> None:
    flows = sorted(str(p) for p in (ROOT / "flows").glob("*.yaml") if p.name != "directory.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "dsl_compiler", "compile", *flows, "--out", str(ROOT / "statemachines")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("demo: compiling the flows failed")
    say(f"compiled {len(flows)} flows into statemachines/")


def server_available() -> bool:
    """moto's server needs flask (the `moto[server]` extra); `make serve` checks for it."""
    return importlib.util.find_spec("flask") is not None and importlib.util.find_spec("flask_cors") is not None




# --- the scenarios: each acts through the API only and returns the approval's id --------------------


def _decide(api: Client, approval_id: str, step: str, *users: str, decision: str = "approve",
            stage: int = 0, comment: str | None = None, timeout: float = 15.0) -> None:
    for user in users:
        api.wait_for_step_open(approval_id, step, stage=stage, timeout=timeout)
        api.decide(approval_id, step, user, decision, comment)


def approve(api: Client) -> str:
    approval_id: str = api.start("leave-request", {"days": 2, "start_date": "2027-03-01", "reason": "moving house"},
                                 "ann")["id"]
    _decide(api, approval_id, "manager", "bob", comment="enjoy")
    _decide(api, approval_id, "hr", "ivy")
    return approval_id


def reject(api: Client) -> str:
    approval_id: str = api.start("purchase-order", {"amount": 50000, "vendor": "Acme Supplies",
                                                    "cost_center": "CC-100"}, "ann")["id"]
    _decide(api, approval_id, "managers", "bob", "carol")
    _decide(api, approval_id, "finance", "frank", decision="reject", comment="over this quarter's budget")
    return approval_id


def escalation(api: Client) -> str:
    approval_id: str = api.start("access-request", {"system": "billing-db", "role": "write", "hours": 4},
                                 "ann")["id"]
    say("  (bob does not answer: waiting for the team lead's 8h timeout, 8 s here)")
    _decide(api, approval_id, "team-lead", "carol", stage=1, timeout=15)  # escalated to bob's manager
    _decide(api, approval_id, "security", "jack")
    return approval_id


def add_signer(api: Client) -> str:
    approval_id: str = api.start("contract-review", {"counterparty": "Globex", "value": 25000, "region": "US"},
                                 "ann")["id"]
    api.wait_for_inbox("gina", approval_id, "legal")
    api.add_signers(approval_id, "legal", "gina", ["dave"], "before")
    _decide(api, approval_id, "legal", "dave", "gina", "hank")
    _decide(api, approval_id, "committee", "ivy", "jack", "kate")
    return approval_id


def withdraw(api: Client) -> str:
    approval_id: str = api.start("expense-claim", {"total": 6200, "category": "travel", "reviewer": "dave"},
                                 "ann")["id"]
    _decide(api, approval_id, "peer-review", "dave")
    api.wait_for_step_open(approval_id, "department")
    api.comment(approval_id, "the conference was cancelled", "ann")
    api.withdraw(approval_id, "ann")
    return approval_id


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    run: Callable[[Client], str]
    outcome: str


SCENARIOS = (
    Scenario("approve", "ann asks for 2 days off; bob (her manager) and HR approve", approve, "approved"),
    Scenario("reject", "ann orders 50 000 USD of supplies; finance rejects", reject, "rejected"),
    Scenario("escalation", "ann asks for write access; bob never answers, so it escalates", escalation, "approved"),
    Scenario("add signer", "gina (legal) has dave sign a contract before her", add_signer, "approved"),
    Scenario("withdraw", "ann withdraws her travel claim while it waits", withdraw, "withdrawn"),
)


# --- the timeline ------------------------------------------------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _flow_time(seconds: float) -> str:
    """`seconds` of demo time as the flow's own duration (an hour is a second here)."""
    minutes = round(seconds * TIME_SCALE / 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"


_PAST = {"approve": "approved", "reject": "rejected"}


def _mode(mode: Any) -> str:
    if isinstance(mode, dict) and "percent" in mode:
        return f"{mode['percent']}% of them"
    if isinstance(mode, dict) and "quorum" in mode:
        return f"any {mode['quorum']} of them"
    return {"any": "any one of them", "all": "all of them", "sequential": "each in turn"}.get(str(mode), str(mode))


def describe(event: dict[str, Any]) -> str:
    """One history event as a line a person reads."""
    kind, data = event["type"], event.get("data") or {}
    who = event["actor"] + (f" (for {event['acting_for']})" if event.get("acting_for") else "")
    step = data.get("step")
    if kind == "Approval Started":
        return f"{who} starts {data.get('flow')}: {json.dumps(data.get('input'))}"
    if kind == "Step Opened":
        assignees = data.get("assignees") or []
        how = [_mode(data.get("mode"))] if len(assignees) > 1 else []
        due = []
        if data.get("deadline"):
            due = [f"answer within {_flow_time((_at(data['deadline']) - _at(event['at'])).total_seconds())}"]
        again = " again" if data.get("stage") else ""
        return f"step '{step}' opens{again} for {', '.join(assignees)} ({', '.join(how + due)})"
    if kind == "Decision Recorded":
        said = f': "{data["comment"]}"' if data.get("comment") else ""
        return f"{who} {data.get('decision')}s '{step}'{said}"
    if kind == "Step Settled":
        reason = f" ({data['reason'].replace('_', ' ')})" if data.get("reason") else ""
        return f"step '{step}' is {data.get('outcome')}{reason}"
    if kind == "Step Timed Out":
        return f"nobody answered '{step}' in time: {data.get('outcome')}"
    if kind == "Step Escalated":
        return f"ESCALATION: '{step}' goes one level up"
    if kind == "Signers Added":
        return f"{who} adds {', '.join(data.get('users') or [])} to '{step}', {data.get('position')} them"
    if kind == "Step Transferred":
        return f"{who} hands '{step}' to {data.get('to')}"
    if kind == "Step Returned":
        return f"{who} returns '{step}' to {data.get('to_step')}"
    if kind == "Approval Withdrawn":
        return f"{who} withdraws the request"
    if kind == "Step Cancelled":
        return f"step '{step}' is cancelled"
    if kind == "Comment Added":
        return f'{who} comments: "{data.get("text")}"'
    if kind == "Reminder Due":
        return f"reminder to {', '.join(data.get('to') or [])} about '{step}'"
    if kind == "Notified":
        return f"{', '.join(data.get('to') or [])} told: {data.get('message')}"
    if kind == "Action Failed":
        return f"action '{step}' failed: {data.get('error')}"
    if kind == "Approval Completed":
        told = f"; told: {', '.join(data['cc'])}" if data.get("cc") else ""
        return f"OUTCOME: {data.get('outcome')}{told}"
    return f"{kind} by {who}"


def timeline(api: Client, approval_id: str) -> list[str]:
    events = api.history(approval_id)["events"]
    start = _at(events[0]["at"])
    return [f"  +{(_at(e['at']) - start).total_seconds():5.2f}s  {describe(e)}" for e in events]


def who_did_what(approval: dict[str, Any], order: list[str]) -> str:
    """`step: what happened` for each step that ran, in the flow's order (`order`, from a preview)."""
    rank = {step: i for i, step in enumerate(order)}
    parts: dict[str, list[str]] = {}
    for stage in sorted(approval["steps"], key=lambda s: rank.get(s["step"], len(rank))):  # stable: stages in order
        if stage["status"] == "skipped":
            continue
        said = [f"{d['user']} {_PAST.get(d['decision'], d['decision'])}" for d in stage["decisions"]]
        parts.setdefault(stage["step"], []).append(", ".join(said) if said else stage["status"])
    return "; ".join(f"{step}: {' then '.join(what)}" for step, what in parts.items())


def play(api: Client, scenario: Scenario) -> tuple[str, bool]:
    """Run one scenario and print its timeline; its summary line, and whether it ended as expected."""
    print(f"\n=== {scenario.name}: {scenario.story}", flush=True)
    started = time.monotonic()
    try:
        approval_id = scenario.run(api)
        approval = api.wait_for_status(approval_id, scenario.outcome, timeout=30)
        seconds = time.monotonic() - started
        for line in timeline(api, approval_id):
            print(line, flush=True)
        # The preview lists every step of the flow in order: actions, which never "open", included.
        order = [s["step"] for s in api.preview(approval["flow"], approval["input"], approval["requester"])["steps"]]
    except Exception as error:  # the next scenarios still run; the summary and exit code tell
        say(f"  {scenario.name} failed: {type(error).__name__}: {error}")
        return f"{scenario.name:<10} FAILED: {error}", False
    line = f"{scenario.name:<10} {approval['flow']:<15} {approval['status']:<9} {seconds:5.1f}s  " \
           f"{who_did_what(approval, order)}"
    return line, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="store_true", help="moto as a local HTTP server (needs moto[server])")
    parser.add_argument("--port", type=int, default=0, help="the gateway's port on 127.0.0.1 (default: any free)")
    parser.add_argument("--no-compile", action="store_true", help="use statemachines/ as it is")
    args = parser.parse_args(argv)
    # moto warns about each template resource it only pretends to create (alarms, bucket policies),
    # and its ASL interpreter logs as errors the paths a saga's Choice finds missing by design.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"moto\.")
    # The timeline is the point here; powertools' own advice (metrics are off) would interleave with it.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"aws_lambda_powertools\.")
    logging.getLogger("moto").setLevel(logging.CRITICAL)

    if not args.no_compile:
        compile_flows()
    say("starting the local stack (moto " + ("server" if args.server else "in-process") + ") and gateway...")
    # Metrics off: the handlers would print one CloudWatch metrics document per request.
    with MotoStack(time_scale=TIME_SCALE, server=args.server, parameters={"LogLevel": "WARNING"},
                    function_env={"POWERTOOLS_METRICS_DISABLED": "true"}) as stack, \
            Gateway(stack, port=args.port, quiet=True) as gateway:
        say(f"API at {gateway.url}/v1; every step below is an HTTP request with the person's own token")
        api = Client(gateway.url)
        results = [play(api, scenario) for scenario in SCENARIOS]
    print("\n=== summary", flush=True)
    for line, _ in results:
        print(f"  {line}", flush=True)
    say("done")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
