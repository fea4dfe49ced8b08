"""`python -m localdev graph`: serve the Graph emulator on loopback until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import sys

from aiohttp import web

from localdev.graph.app import create_app
from localdev.graph.rules import is_guid
from localdev.graph.throttle import DEFAULT_LIMIT
from shared.platform.identity import LOOPBACK_APP_ID


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localdev graph", description="A local Microsoft Graph v1.0 presence emulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port; printed)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--users",
        choices=("demo", "none"),
        default="demo",
        help="seed the demo directory (default) or nobody",
    )
    parser.add_argument(
        "--app-id",
        default=LOOPBACK_APP_ID,
        help="the caller's application id, expected as setPresence's sessionId",
    )
    parser.add_argument(
        "--presence-budget",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"presence requests per app in any 30 s before a 429, as Graph ({DEFAULT_LIMIT}; 0: off)",
    )
    return parser


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not is_loopback_host(args.host):
        print(
            f"graph emulator: refusing to bind {args.host!r}: the emulator serves loopback only",
            file=sys.stderr,
        )
        return 2
    if not is_guid(args.app_id):
        print(f"graph emulator: --app-id must be a GUID, not {args.app_id!r}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"graph emulator: --port {args.port} is not a port", file=sys.stderr)
        return 2
    if args.presence_budget < 0:
        print(f"graph emulator: --presence-budget {args.presence_budget} is negative", file=sys.stderr)
        return 2
    users = None if args.users == "none" else "demo"
    return asyncio.run(_serve(args.host, args.port, args.app_id, users, args.presence_budget or None))


async def _serve(host: str, port: int, app_id: str, users: str | None, presence_budget: int | None) -> int:
    app = create_app(app_id=app_id, users=users, presence_budget=presence_budget)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host.strip("[]"), port)
        await site.start()
        bound_port = runner.addresses[0][1]
        shown_host = f"[{host.strip('[]')}]" if ":" in host else host
        print(f"graph emulator listening on http://{shown_host}:{bound_port}/v1.0", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
