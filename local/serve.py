"""`python -m local.serve` (`make serve`, optional `PORT=8080`): the HTTP API of docs/api.md
on 127.0.0.1, for the flows in flows/ and the people in flows/directory.yaml.

Compiles the flows, starts the local stack with moto as a server, and puts the local gateway
(local/gateway.py) in front of the deployed ApiFunction. Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from .demo import compile_flows, say, server_available
from .gateway import TOKEN_PATH, Gateway
from .stack import MotoStack

TRY_IT = """
  TOKEN=$(curl -s -X POST {url}{token_path} -d '{{"user": "ann", "tenant": "acme"}}' \\
          | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  curl -s -X POST {url}/v1/flows/leave-request/approvals -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"input": {{"days": 1, "start_date": "2026-12-01"}}}}'
"""
SUITE = """
  APPROVALS_TARGET=localstack LOCALSTACK_HOST=127.0.0.1:{port} APPROVALS_STACK={stack} \\
  APPROVALS_TIME_SCALE={scale} make integration
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080),
                        help="the gateway's port on 127.0.0.1 (default: $PORT or 8080)")
    parser.add_argument("--moto-port", type=int, default=4566,
                        help="moto's port on 127.0.0.1 (default 4566, where localstack-client looks: the "
                             "integration suite can target this stack as it would LocalStack)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="flow time runs this many times faster (3600: an hour of timeout is a second)")
    parser.add_argument("--no-compile", action="store_true", help="use statemachines/ as it is")
    args = parser.parse_args(argv)
    if not server_available():
        print("make serve needs moto's server (flask, flask-cors): run `make clean serve`", file=sys.stderr)
        return 2

    if not args.no_compile:
        compile_flows()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    say("starting the local stack (moto server on 127.0.0.1)...")
    with MotoStack(time_scale=args.time_scale, server=True, port=args.moto_port,
                    parameters={"LogLevel": "WARNING"}) as stack, \
            Gateway(stack, port=args.port) as gateway:
        url = gateway.url
        say(f"moto at {stack.endpoint_url}; flows: {', '.join(sorted(stack.deployment.state_machines))}"
            if stack.deployment else f"moto at {stack.endpoint_url}")
        say(f"API at {url}/v1 (OpenAPI: {url}/openapi.json, try it: {url}/docs); Ctrl-C stops")
        print(TRY_IT.format(url=url, token_path=TOKEN_PATH), flush=True)
        if stack.deployment is not None:
            say("the integration suite against this stack, as against LocalStack (README, Two targets):")
            print(SUITE.format(port=args.moto_port, stack=stack.deployment.stack_name, scale=f"{args.time_scale:g}"),
                  flush=True)
        stop.wait()
        say("stopping...")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
