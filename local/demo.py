"""`python -m local.demo` (`make demo`): compile the example flows, start the local stack and run
one leave request end to end, printing what happens as it happens.

ann asks for a day off; bob, her manager, approves; the flow's HR step (it has no `when`, so it
runs for every request) is approved by ivy; the approval ends `approved`.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from typing import Any

from .deploy import ROOT
from .stack import LocalStack

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
    """moto's server needs flask (the `moto[server]` extra); without it the demo runs in-process."""
    return importlib.util.find_spec("flask") is not None and importlib.util.find_spec("flask_cors") is not None


def _on_event(kind: str, item: Any) -> None:
    if kind == "opened":
        deadline = f", deadline {item.deadline}" if item.deadline else ""
        say(f"step '{item.step}' opened for {', '.join(item.assignees)} (mode {item.mode}{deadline})")
    else:
        user, decision, stage = item
        state = stage.status.value if stage else "?"
        say(f"  {user} decided: {decision} -> step '{stage.step if stage else '?'}' is {state}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--server", action="store_true", help="moto as a local HTTP server (needs moto[server])")
    mode.add_argument("--in-process", action="store_true", help="moto in-process (the default without flask)")
    parser.add_argument("--no-compile", action="store_true", help="use statemachines/ as it is")
    args = parser.parse_args(argv)

    if not args.no_compile:
        compile_flows()
    server = args.server or (not args.in_process and server_available())
    say("starting the local stack (moto " + ("server on 127.0.0.1" if server else "in-process") + ")...")
    with LocalStack(time_scale=3600, server=server, parameters={"LogLevel": "WARNING"}) as stack:
        where = stack.endpoint_url or "in-process"
        machines = ", ".join(sorted(stack.deployment.state_machines)) if stack.deployment else ""
        say(f"deployed template.yaml at {where}: {machines}")
        request = {"days": 1, "start_date": "2026-12-01", "reason": "moving house"}
        approval_id = stack.start_approval("leave-request", "ann", request)
        say(f"ann started leave-request {approval_id} with {request}")
        status, output, opened = stack.drive(
            approval_id, {"manager": "bob", "hr": "ivy"}, timeout=30, on_event=_on_event
        )
        outcome = output.get("outcome") if output else None
        say(f"execution {status}, outcome: {outcome} (steps opened: {', '.join(opened)})")
        approval = stack.approval(approval_id)
        say(f"approval status {approval.status.value}, revision {approval.revision}")
        for step in sorted(approval.steps, key=lambda s: (s.opened_at or "~", s.step)):
            say(f"  {step.step:<9} {step.status.value:<9} {', '.join(d.user for d in step.decisions)}")
        say("audit trail:")
        for event in stack.audit(approval_id):
            say(f"  #{event['seq']} {event['type']} by {event['actor']}")
        seen = [e["detail-type"] for e in stack.events(approval_id)]
        say(f"EventBridge events on the bus: {', '.join(seen)}")
    return 0 if outcome == "approved" else 1


if __name__ == "__main__":
    raise SystemExit(main())
