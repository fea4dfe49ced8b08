"""Benchmark: Graph calls per held hour. A presence held for 24 hours through the service (`PUT .../session`,
then `renew_sessions` every minute), against a blind loop that sets the same presence every 5 minutes (the
usual Power Automate recipe), for Busy and for Available. Both run against Azurite and the Graph emulator on
a moved clock (a simulated day takes seconds); every minute the emulator is asked what it shows, so the
minutes the presence was not shown are counted too. Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/held_hours.py [--hours 24]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl  # noqa: E402
from localdev.graph.demo import ALICE_ID  # noqa: E402
from localdev.stack import Stack  # noqa: E402
from shared.api.models import SessionRequest  # noqa: E402
from shared.app import Services, build_services  # noqa: E402
from shared.platform.clock import Clock  # noqa: E402
from shared.platform.config import Settings  # noqa: E402
from shared.platform.identity import LOOPBACK_APP_ID  # noqa: E402

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LOOP_EVERY = timedelta(minutes=5)
WRITES = ("setPresence", "clearPresence")


@dataclass(frozen=True)
class Run:
    name: str
    pair: tuple[str, str]
    hours: int
    graph_writes: int
    minutes_not_shown: int

    @property
    def per_hour(self) -> float:
        return self.graph_writes / self.hours


async def move(clock: Clock, graph: EmulatorControl, now: datetime) -> None:
    clock.set_now(now, frozen=True)
    await graph.set_clock(now, frozen=True)


async def writes(graph: EmulatorControl) -> int:
    return len([e for e in await graph.journal(method="POST") if e.path.rsplit("/", 1)[-1] in WRITES])


async def shown(graph: EmulatorControl, pair: tuple[str, str]) -> bool:
    state = await graph.user_state(ALICE_ID)
    return (state["availability"], state["activity"]) == pair


async def held_by_service(
    services: Services, clock: Clock, graph: EmulatorControl, pair: tuple[str, str], hours: int
) -> Run:
    await graph.reset()
    await move(clock, graph, T0)
    body = SessionRequest(availability=pair[0], activity=pair[1], duration_minutes=hours * 60)
    await services.holds.hold_session("bench", ALICE_ID, body)
    missing = 0
    for minute in range(1, hours * 60 + 1):
        await move(clock, graph, T0 + timedelta(minutes=minute))
        await services.holds.renew_due()  # RENEW_TICK: every minute
        missing += minute < hours * 60 and not await shown(graph, pair)
    return Run("service", pair, hours, await writes(graph), missing)


async def blind_loop(
    services: Services, clock: Clock, graph: EmulatorControl, pair: tuple[str, str], hours: int
) -> Run:
    """setPresence every 5 minutes with Graph's default expiry (5 minutes), as a recurring flow does."""
    await graph.reset()
    missing = 0
    for minute in range(hours * 60):
        await move(clock, graph, T0 + timedelta(minutes=minute))
        if minute % 5 == 0:
            await services.gateway.set_session(ALICE_ID, LOOPBACK_APP_ID, *pair, LOOP_EVERY)
        # Measured just before the next minute's call (Graph's clock ticks on in between).
        await move(clock, graph, T0 + timedelta(minutes=minute, seconds=59))
        missing += not await shown(graph, pair)
    return Run("5-minute loop", pair, hours, await writes(graph), missing)


async def run(hours: int) -> list[Run]:
    stack = Stack(app_dir=REPO_ROOT, users="demo")
    try:
        stack.azurite.start()
        stack.start_graph()
        settings = Settings.from_env(
            {
                "GRAPH_BASE_URL": stack.graph_base_url,
                "TABLES_CONNECTION_STRING": stack.azurite.connection_string,
                "TABLE_PREFIX": "benchheld",
                "PRESENCE_SESSION_ID": LOOPBACK_APP_ID,
            }
        )
        clock = Clock()
        services = build_services(settings, clock)
        results = []
        try:
            async with EmulatorControl(stack.graph_url) as graph:
                for pair in (("Busy", "InACall"), ("Available", "Available")):
                    results.append(await held_by_service(services, clock, graph, pair, hours))
                    results.append(await blind_loop(services, clock, graph, pair, hours))
        finally:
            await services.tables.close()
        return results
    finally:
        stack.close()


def report(results: list[Run]) -> str:
    lines = [
        "Graph calls to keep one presence up: the service (a hold, renew_sessions every minute) against",
        "a blind setPresence every 5 minutes. Azurite and the Graph emulator, both clocks moved minute by",
        "minute; 'not shown' counts the minutes in which Graph showed something else (Available fades 5",
        "minutes after a refresh; a session expires at its expirationDuration). The loop runs exactly on",
        "time here; a real recurrence runs late now and then, and Available fades in between.",
        "",
        f"{'presence':<22}{'how':<15}{'hours':>6}{'Graph writes':>14}{'per hour':>10}"
        f"{'minutes not shown':>19}",
    ]
    for r in results:
        lines.append(
            f"{'/'.join(r.pair):<22}{r.name:<15}{r.hours:>6}{r.graph_writes:>14,}{r.per_hour:>10.2f}"
            f"{r.minutes_not_shown:>19,}"
        )
    busy = {r.name: r for r in results if r.pair == ("Busy", "InACall")}
    available = {r.name: r for r in results if r.pair == ("Available", "Available")}
    ours, loop = busy["service"], busy["5-minute loop"]
    lines += [
        "",
        f"available: {available['service'].per_hour:.1f} calls/h held by the service (a tick before "
        f"the fade) vs {available['5-minute loop'].per_hour:.1f}/h for the loop",
        f"headline: Busy held {ours.hours} h: {ours.graph_writes} Graph calls vs {loop.graph_writes} for a "
        f"5-minute loop = {loop.graph_writes / ours.graph_writes:.0f}x fewer",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=24, help="how long the presence is held")
    args = parser.parse_args()
    print(report(asyncio.run(run(args.hours))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
