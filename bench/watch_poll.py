"""Benchmark: the cost of one `poll_watches` tick at 10,000 watched users, against Azurite, the Graph
emulator (its own process, with added latency per HTTP request) and a receiver on loopback. Not a test: it
prints a table, the headline ratio last.

    .venv/bin/python bench/watch_poll.py [--users 10000] [--watches 10] [--per-watch 1500]
                                         [--changed 100] [--latency-ms 40]

The watches overlap (watch k covers users k*N/W ... k*N/W + per-watch, wrapping), so users are watched
by one or two watches each, as a tenant's flows would. The first tick sets every baseline; then --changed
users change presence (a Teams client session each) and the second tick finds and delivers the changes;
a third tick, with nothing changed, is the steady state. Graph calls are counted from the emulator's
journal; the minimum is one getPresencesByUserId per 650 distinct watched users.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl  # noqa: E402
from localdev.stack import Stack  # noqa: E402
from shared.api.models import WatchInput  # noqa: E402
from shared.app import Services, build_services  # noqa: E402
from shared.platform.config import Settings  # noqa: E402
from shared.platform.graph import PRESENCE_BATCH_LIMIT  # noqa: E402
from tests.receiver import Receiver  # noqa: E402


def user_id(n: int) -> str:
    return f"5eed0000-0000-4000-8000-{n:012d}"


@dataclass(frozen=True)
class Tick:
    name: str
    graph_calls: int
    presence_reads: int
    changes: int
    delivered: int
    seconds: float


async def measure(name: str, services: Services, graph: EmulatorControl) -> Tick:
    await graph.clear_journal()
    started = time.perf_counter()
    report = await services.watcher.tick()
    seconds = time.perf_counter() - started
    calls = [e for e in await graph.journal() if e.batch_request_id is None]
    reads = sum(1 for e in calls if e.path.endswith("/getPresencesByUserId"))
    return Tick(name, len(calls), reads, report.changes, report.delivered, seconds)


async def run(
    users: int, watches: int, per_watch: int, changed: int, latency_ms: int
) -> tuple[list[Tick], int, int]:
    stack = Stack(app_dir=REPO_ROOT, users="none")
    try:
        stack.azurite.start()
        stack.start_graph()
        env = {
            "GRAPH_BASE_URL": stack.graph_base_url,
            "TABLES_CONNECTION_STRING": stack.azurite.connection_string,
            "TABLE_PREFIX": "benchwatch",
        }
        services = build_services(Settings.from_env(env))
        try:
            async with EmulatorControl(stack.graph_url) as graph, Receiver() as receiver:
                ids = [user_id(n) for n in range(users)]
                await graph.seed_users(
                    [{"userPrincipalName": f"u{n:05d}@contoso.test", "id": i} for n, i in enumerate(ids)]
                )
                memberships = 0
                step = users // watches
                for k in range(watches):
                    members = [ids[(k * step + j) % users] for j in range(per_watch)]
                    body = WatchInput(users=members, callback_url=receiver.url)
                    await services.watches.create("bench", body, services.watches.targets(body))
                    memberships += len(members)
                await graph.latency(fixed_ms=latency_ms)
                baseline = await measure("baseline (first read)", services, graph)
                for n in range(changed):
                    await graph.add_session(
                        ids[n * (users // changed)], "teams-desktop", "Busy", "InAMeeting"
                    )
                changes = await measure(f"{changed} users changed", services, graph)
                steady = await measure("nothing changed", services, graph)
                assert len(receiver.delivered) == changes.delivered
        finally:
            await services.tables.close()
    finally:
        stack.close()
    return [baseline, changes, steady], memberships, len(set(ids))


def report(
    ticks: list[Tick], users: int, watches: int, memberships: int, per_watch: int, latency_ms: int
) -> list[str]:
    minimum = math.ceil(users / PRESENCE_BATCH_LIMIT)
    alone = watches * math.ceil(per_watch / PRESENCE_BATCH_LIMIT)
    lines = [
        f"poll_watches at {users:,} watched users: {watches} watches of {per_watch:,} users"
        f" ({memberships:,} memberships). Graph emulator in its own process, +{latency_ms} ms per request.",
        "",
        f"{'tick':<24}{'Graph calls':>12}{'presence':>10}{'minimum':>9}{'changes':>9}{'delivered':>11}"
        f"{'wall s':>8}",
    ]
    for t in ticks:
        lines.append(
            f"{t.name:<24}{t.graph_calls:>12,}{t.presence_reads:>10,}{minimum:>9,}{t.changes:>9,}"
            f"{t.delivered:>11,}{t.seconds:>8.2f}"
        )
    worst = max(t.graph_calls for t in ticks)
    lines += [
        "",
        f"If each watch polled its own users: {alone} calls a tick; one GET per user: {users:,}.",
        "",
        f"headline: Graph calls per poll {worst} = {worst / minimum:.2f}x the minimum (ceil({users:,}/650) ="
        f" {minimum}), {alone / worst:.1f}x fewer than polling per watch, {users / worst:,.0f}x fewer than"
        f" one read per user",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--watches", type=int, default=10)
    parser.add_argument("--per-watch", type=int, default=1_500)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=40)
    args = parser.parse_args()
    ticks, memberships, users = asyncio.run(
        run(args.users, args.watches, args.per_watch, args.changed, args.latency_ms)
    )
    print("\n".join(report(ticks, users, args.watches, memberships, args.per_watch, args.latency_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
