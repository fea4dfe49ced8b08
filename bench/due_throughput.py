"""Benchmark: throughput of due transitions. 1,000 schedules whose status messages all start in the same
minute, applied by one `apply_schedules` tick against Azurite and the Graph emulator (its own process,
with added latency per request, its clock running in real time so that its journal stamps are real).
Each start reads what the user shows (to restore it later) and sets the message: two Graph requests.
Measured: starts applied per second, and the most Graph requests in any 30 s and in any second, against
Graph's presence budget (1,500 per 30 s per app and tenant), once with the service's pacing at that
budget and once with it raised out of the way. Not a test: it prints a table, the headline last.

    .venv/bin/python bench/due_throughput.py [--schedules 1000] [--latency-ms 40]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl  # noqa: E402
from localdev.stack import Stack  # noqa: E402
from shared.api.models import ScheduleInput  # noqa: E402
from shared.app import build_services  # noqa: E402
from shared.platform.clock import Clock  # noqa: E402
from shared.platform.config import Settings  # noqa: E402

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BUDGET = 1500  # Graph: presence requests per 30 s per app and tenant (graph-presence.md)


@dataclass(frozen=True)
class Result:
    budget: int
    starts: int
    seconds: float
    requests: int
    peak_30s: int
    peak_1s: int

    @property
    def per_second(self) -> float:
        return self.starts / self.seconds


def fullest(stamps: list[float], window: float) -> int:
    return max((bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps)), default=0)


async def one_run(stack: Stack, schedules: int, latency_ms: int, budget: int, prefix: str) -> Result:
    settings = Settings.from_env(
        {
            "GRAPH_BASE_URL": stack.graph_base_url,
            "TABLES_CONNECTION_STRING": stack.azurite.connection_string,
            "TABLE_PREFIX": prefix,
            "GRAPH_BUDGET_PER_30S": str(budget),
        }
    )
    clock = Clock()
    clock.set_now(T0, frozen=True)
    services = build_services(settings, clock)
    try:
        async with EmulatorControl(stack.graph_url) as graph:
            await graph.reset()
            await graph.set_clock(T0, frozen=True)
            seeded = await graph.seed_users(
                [{"userPrincipalName": f"{prefix}{i}@contoso.test"} for i in range(schedules)]
            )
            start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=31)
            for i, user in enumerate(seeded):
                fields = ScheduleInput(
                    user=user["id"],
                    start=start.isoformat(),
                    end=end.isoformat(),
                    status_message=f"Town hall {i}",
                )
                await services.schedules.create("bench", fields, None)
            await graph.latency(fixed_ms=latency_ms)
            await graph.clear_journal()
            clock.set_now(start, frozen=True)
            await graph.set_clock(start, frozen=False)  # real time from here: the journal's stamps
            began = time.perf_counter()
            await services.engine.tick()
            seconds = time.perf_counter() - began
            await graph.latency()
            journal = await graph.journal()
            stamps = sorted(e.at.timestamp() for e in journal if e.path.startswith("/v1.0/"))
            applied = [e for e in journal if e.path.endswith("/setStatusMessage") and e.status < 300]
            return Result(
                budget, len(applied), seconds, len(stamps), fullest(stamps, 30.0), fullest(stamps, 1.0)
            )
    finally:
        await services.tables.close()


async def run(schedules: int, latency_ms: int) -> list[Result]:
    stack = Stack(app_dir=REPO_ROOT, users="none")
    try:
        stack.azurite.start()
        stack.start_graph()
        return [
            await one_run(stack, schedules, latency_ms, BUDGET, "benchpaced"),
            await one_run(stack, schedules, latency_ms, 10_000, "benchfree"),
        ]
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=40, help="latency the emulator adds per request")
    args = parser.parse_args()
    results = asyncio.run(run(args.schedules, args.latency_ms))
    print(f"{args.schedules:,} status messages due in the same minute, one apply_schedules tick;")
    print(f"Graph emulator +{args.latency_ms} ms per request, GRAPH_CONCURRENCY=8, Azurite.")
    print()
    print(
        f"{'GRAPH_BUDGET_PER_30S':<22}{'applied':>9}{'seconds':>9}{'per s':>8}{'requests':>10}"
        f"{'peak/30 s':>11}{'peak/1 s':>10}"
    )
    for r in results:
        print(
            f"{r.budget:<22,}{r.starts:>9,}{r.seconds:>9.1f}{r.per_second:>8.1f}{r.requests:>10,}"
            f"{r.peak_30s:>11,}{r.peak_1s:>10,}"
        )
    paced = results[0]
    print()
    print(
        f"headline: {paced.starts:,} starts at {paced.per_second:.0f}/s with a peak of {paced.peak_30s:,} "
        f"Graph requests in any 30 s = {paced.peak_30s / BUDGET:.2f}x Graph's budget of {BUDGET:,}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
