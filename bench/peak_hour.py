"""Benchmark: Monday 08:55-09:30 of a tenant at peak, on moved clocks. Recurring daily schedules all start
at 09:00 (their series begun between today and --max-age-years ago), held Available sessions (Graph fades
them 5 minutes after each refresh) and held Busy sessions whose 4-hour Graph sessions lapse from 09:00 on,
three users watches, and a load of HTTP presence reads, run by --hosts service instances on the same
tables, each in its own process as on Azure (each timer on another instance every minute), against the
Graph emulator in its own process, with added latency and Graph's presence throttle on. Not a test: it
prints a table, the ratios last.

    .venv/bin/python bench/peak_hour.py            # a tenth of the issue's size (about 2 minutes)
    .venv/bin/python bench/peak_hour.py --full     # 20,000 users, 5,000 schedules, ... (about 20 minutes)
    PEAK_DEBUG=1 .venv/bin/python bench/peak_hour.py  # also the requests in each second from 09:00 (stderr)

Time: the service clocks and the emulator clock run in real time from 08:55, and jump ahead together
only when no tick is running, so every Graph request is timed as Graph would see it; the 30-second
windows are measured on real time (the jumps taken out).
- renewals late: a held Available session refreshed more than 5 minutes after the previous refresh (Graph
  faded it), or a Busy session renewed after its Graph session ended (it lapsed); must be 0.
- starts: real seconds from 09:00 until the last schedule's start reached Graph, against the budget-bound
  minimum: every presence request made meanwhile (all kinds) at GRAPH_BUDGET_PER_30S / 30 a second.
- peak: the most presence requests in any 30 s of real time, against the budget; the emulator's 429s.
- watch ticks: getPresencesByUserId calls per poll_watches tick against ceil(watched users / 650).
The budget's best is 0.90x (its 1-second slots keep 3 of a window's 33 free for edges and clock skew), so
starts can take no less than 1.11x the minimum here.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl  # noqa: E402
from localdev.graph.control import JournalEntry  # noqa: E402
from localdev.stack import Stack  # noqa: E402
from shared.api.models import ScheduleInput, SessionRequest, WatchInput  # noqa: E402
from shared.app import Services, build_services  # noqa: E402
from shared.platform.budget import Priority, spending  # noqa: E402
from shared.platform.clock import Clock  # noqa: E402
from shared.platform.config import Settings  # noqa: E402
from shared.platform.gathering import gather_bounded  # noqa: E402
from shared.platform.graph import PRESENCE_BATCH_LIMIT  # noqa: E402
from tests.receiver import Receiver  # noqa: E402

BUDGET = 1500
PREFIX = "benchpeak"


@dataclass(frozen=True)
class Size:
    users: int
    schedules: int
    available: int
    busy: int
    watched: int


FULL = Size(users=20_000, schedules=5_000, available=2_000, busy=2_000, watched=10_000)


def user_id(n: int) -> str:
    return f"9eac0000-0000-4000-8000-{n:012d}"


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


class HostProcess:
    """One service instance in its own process (`--host`), driven over its stdin/stdout, one JSON line a
    command: its own event loop and CPU, like an instance on Azure."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._answers = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], log: Path) -> HostProcess:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(REPO_ROOT / "bench" / "peak_hour.py"),
                "--host",
                env={**os.environ, **env},  # its app settings
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                limit=2**20,
            )
        return cls(process)

    async def _read(self) -> None:
        assert self._process.stdout is not None
        while line := await self._process.stdout.readline():
            answer = json.loads(line)
            future = self._waiting.pop(answer["id"])
            if "error" in answer:
                future.set_exception(RuntimeError(answer["error"]))
            else:
                future.set_result(answer["value"])
        for future in self._waiting.values():
            future.set_exception(RuntimeError("the host process ended"))

    async def call(self, op: str, **args: Any) -> Any:
        assert self._process.stdin is not None
        n = next(self._ids)
        self._waiting[n] = asyncio.get_running_loop().create_future()
        self._process.stdin.write(json.dumps({"id": n, "op": op, **args}).encode() + b"\n")
        await self._process.stdin.drain()
        return await self._waiting[n]

    async def close(self) -> float:
        """Stops the host; the CPU seconds it used."""
        cpu = await self.call("close")
        await self._process.wait()
        await self._answers
        return float(cpu)


async def host_main() -> None:
    """`--host`: one service instance (its settings in the environment) answering commands on stdin until
    `close`."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    clock = Clock()
    services = build_services(Settings.from_env(dict(os.environ)), clock)
    out = sys.stdout.buffer
    running: set[asyncio.Task[None]] = set()

    async def answer(command: dict[str, Any]) -> None:
        op = command["op"]
        reply: dict[str, Any] = {"id": command["id"], "value": None}
        try:
            if op == "clock":  # `moment` at the real instant `at`
                clock.set_now(
                    datetime.fromisoformat(command["moment"]) + timedelta(seconds=time.time() - command["at"])
                )
            elif op == "advance":
                clock.advance(timedelta(seconds=command["seconds"]))
            elif op == "renew":
                await services.holds.renew_due()
            elif op == "schedules":
                await services.engine.tick()
            elif op == "watches":
                with spending(Priority.READ, time.monotonic() + services.settings.tick_time_limit_seconds):
                    await services.watcher.tick()
            elif op == "read":
                try:
                    await services.presence.read(command["user"])
                    reply["value"] = "ok"
                except Exception as exc:  # a 429 graphBudgetExhausted is an answer the caller may get
                    reply["value"] = getattr(exc, "code", type(exc).__name__)
        except Exception as exc:
            reply = {"id": command["id"], "error": repr(exc)}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()

    while line := await commands.readline():
        command = json.loads(line)
        if command["op"] == "close":
            await asyncio.gather(*running)
            await services.tables.close()
            out.write(json.dumps({"id": command["id"], "value": time.process_time()}).encode() + b"\n")
            out.flush()
            return
        task = asyncio.ensure_future(answer(command))
        running.add(task)
        task.add_done_callback(running.discard)


@dataclass
class World:
    """The host processes, the clocks (this process's and theirs, moved together with the emulator's)
    and the jumps taken."""

    hosts: list[HostProcess]
    clock: Clock
    graph: EmulatorControl
    jumps: list[tuple[datetime, float]] = field(default_factory=list)  # (emulator time after, seconds)
    running: int = 0

    def now(self) -> datetime:
        return self.clock.now()

    async def set_now(self, moment: datetime) -> None:
        self.clock.set_now(moment)
        at = time.time()
        await asyncio.gather(*(h.call("clock", moment=moment.isoformat(), at=at) for h in self.hosts))

    async def jump(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.gather(*(h.call("advance", seconds=seconds) for h in self.hosts))
        after = await self.graph.advance(seconds=seconds)
        self.jumps.append((after, seconds))

    def real(self, at: datetime) -> float:
        """An emulator instant as real seconds since the run began (the jumps before it taken out)."""
        skipped = sum(s for after, s in self.jumps if after <= at)
        return at.timestamp() - skipped


async def setup(
    services: Services, clock: Clock, graph: EmulatorControl, size: Size, day: date, ages: int
) -> tuple[list[str], list[str], list[str]]:
    """Users, holds (each at the moment that makes it due in the peak), schedules and watches."""
    ids = [user_id(n) for n in range(size.users)]
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        await graph.seed_users(
            [{"userPrincipalName": f"p{i + n:05d}@contoso.test", "id": u} for n, u in enumerate(chunk)]
        )
    peak = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)

    async def at(moment: datetime) -> None:
        clock.set_now(moment, frozen=True)
        await graph.set_clock(moment, frozen=True)

    busy = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)
    available = SessionRequest(availability="Available", activity="Available", duration_minutes=240)
    held_busy = ids[: size.busy]
    held_available = ids[size.busy : size.busy + size.available]
    # Busy: set 05:00-05:05, so their 4-hour Graph sessions lapse 09:00-09:05 unless renewed (due 08:55-).
    for group in range(5):
        await at(peak - timedelta(hours=4) + timedelta(minutes=group))
        users = held_busy[group::5]
        await gather_bounded([services.holds.hold_session("bench", u, busy) for u in users], 16)
    # Available: set 08:51-08:54, so their refreshes come every minute of the peak.
    for group in range(4):
        await at(peak - timedelta(minutes=9 - group))
        users = held_available[group::4]
        await gather_bounded([services.holds.hold_session("bench", u, available) for u in users], 16)

    await at(peak - timedelta(minutes=6))
    rng = random.Random(14)
    scheduled = ids[-size.schedules :]

    async def create(n: int, user: str) -> None:
        first = day - timedelta(days=rng.randint(0, ages * 365))
        fields = ScheduleInput(
            user=user,
            start=f"{first.isoformat()}T09:00:00",
            end=f"{first.isoformat()}T09:15:00",
            time_zone="UTC",
            recurrence="FREQ=DAILY",
            status_message=f"In standup ({n})",
        )
        await services.schedules.create("bench", fields, None)

    await gather_bounded([create(n, u) for n, u in enumerate(scheduled)], 16)
    await services.engine.tick()  # each new schedule indexed at its next start
    watched = ids[: size.watched]
    third = len(watched) // 3
    for k in range(3):  # overlapping thirds: each user in one or two watches
        members = watched[k * third : (k + 1) * third + third // 2]
        body = WatchInput(users=members[:10_000], callback_url=RECEIVER_URL[0])
        await services.watches.create("bench", body, services.watches.targets(body))
    await services.watcher.tick()  # the baselines
    return held_available, held_busy, watched


RECEIVER_URL: list[str] = [""]


async def timer(world: World, name: str, second: int, until: datetime, offset: int, ticks: list[int]) -> None:
    """One timer function: each minute at `second`, on the next host in turn; a tick that overran is
    followed at once by the next one (as the Functions host runs a past-due timer)."""
    minute = 0
    moment = world.now().replace(second=second, microsecond=0)
    while moment < until:
        while world.now() < moment:  # noqa: ASYNC110  (the clocks jump: no event says when)
            await asyncio.sleep(0.01)
        host = world.hosts[(minute + offset) % len(world.hosts)]
        world.running += 1
        try:
            await host.call(name)
            ticks.append(1)
        finally:
            world.running -= 1
        minute += 1
        moment += timedelta(minutes=1)


async def reads(world: World, users: list[str], until: datetime, stats: dict[str, int]) -> None:
    """HTTP presence reads: one every 0.25 s of real time while the run lasts, on the hosts in turn."""
    rng = random.Random(7)
    n = 0
    sent: list[asyncio.Task[None]] = []
    while world.now() < until:
        host = world.hosts[n % len(world.hosts)]
        n += 1
        sent.append(asyncio.ensure_future(read(host, rng.choice(users), stats)))  # one every 0.25 s
        await asyncio.sleep(0.25)
    await asyncio.gather(*sent)


async def read(host: HostProcess, user: str, stats: dict[str, int]) -> None:
    code = await host.call("read", user=user)
    stats[code] = stats.get(code, 0) + 1


async def fast_forward(world: World, until: datetime) -> None:
    """While no tick runs, jump the clocks to just before the next second at which a timer fires."""
    while world.now() < until:
        await asyncio.sleep(0.02)
        if world.running:
            continue
        now = world.now()
        fires = [now.replace(second=s, microsecond=0) + timedelta(minutes=m) for m in (0, 1) for s in (0, 30)]
        upcoming = min(f for f in fires if f > now)
        gap = (upcoming - now).total_seconds() - 0.05
        if gap > 0.2 and not world.running:
            await world.jump(gap)


def fullest(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    return max((bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps)), default=0)


def late_renewals(journal: list[JournalEntry], available: set[str], busy: set[str], end: datetime) -> int:
    """Held users Graph stopped showing: an Available refresh more than 5 minutes after the last, or a
    Busy session renewed (or never renewed) after its Graph session ended."""
    sets: dict[str, list[tuple[datetime, timedelta]]] = {}
    for e in journal:
        if e.path.endswith("/setPresence") and e.status < 300:
            user = e.path.split("/")[3]
            duration = e.body["expirationDuration"]  # PT4H, PT3H55M, PT5M ...
            hours = int(duration.split("H")[0][2:]) if "H" in duration else 0
            minutes = (
                int(duration.rstrip("M").split("H")[-1].removeprefix("PT") or 0) if "M" in duration else 0
            )
            sets.setdefault(user, []).append((e.at, timedelta(hours=hours, minutes=minutes)))
    late = 0
    for user in available | busy:
        times = sets.get(user, [])
        horizon = [(t, d if user in busy else timedelta(minutes=5)) for t, d in times]
        checks = [(a[0] + a[1], b[0]) for a, b in itertools.pairwise(horizon)]
        if horizon:
            checks.append((horizon[-1][0] + horizon[-1][1], end))
        late += any(lapse < next_set for lapse, next_set in checks)
    return late


async def run(size: Size, hosts: int, latency_ms: int, ages: int, concurrency: int) -> list[str]:
    day = next_monday()
    peak = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    stack = Stack(app_dir=REPO_ROOT, users="none", presence_budget=BUDGET)
    try:
        stack.azurite.start()
        stack.start_graph()

        def env(budget: int) -> dict[str, str]:
            return {
                "GRAPH_BASE_URL": stack.graph_base_url,
                "TABLES_CONNECTION_STRING": stack.azurite.connection_string,
                "TABLE_PREFIX": PREFIX,
                "GRAPH_BUDGET_PER_30S": str(budget),
                "GRAPH_CONCURRENCY": str(concurrency),
            }

        async with EmulatorControl(stack.graph_url) as graph, Receiver() as receiver:
            RECEIVER_URL[0] = receiver.url
            await graph.presence_budget(None)  # the set-up is not the peak
            setup_clock = Clock()
            loader = build_services(Settings.from_env(env(10_000)), setup_clock)
            began = time.perf_counter()
            try:
                available, busy, watched = await setup(loader, setup_clock, graph, size, day, ages)
            finally:
                await loader.tables.close()
            setup_seconds = time.perf_counter() - began

            host_log = Path(tempfile.gettempdir()) / f"peak_hour_hosts_{os.getpid()}.log"
            started = [HostProcess.start(env(BUDGET), host_log) for _ in range(hosts)]
            world = World(list(await asyncio.gather(*started)), Clock(), graph)
            host_cpu: list[float] = []
            try:
                start = peak - timedelta(minutes=5)
                await graph.set_clock(start, frozen=False)
                await world.set_now(start)
                await graph.latency(fixed_ms=latency_ms)
                await graph.presence_budget(BUDGET)  # Graph's throttle on, its window empty
                first_seq = max((e.seq for e in await graph.journal()), default=0) + 1  # the set-up's
                until = peak + timedelta(minutes=30)
                watch_ticks: list[int] = []
                stats = {"ok": 0}
                began = time.perf_counter()
                await asyncio.gather(
                    timer(world, "renew", 0, until, 0, []),
                    timer(world, "schedules", 0, until, 1, []),
                    timer(world, "watches", 30, until, 2, watch_ticks),
                    reads(world, watched, until, stats),
                    fast_forward(world, until),
                )
                run_seconds = time.perf_counter() - began
                await graph.latency()
                journal = await graph.journal()
                end = world.now()
            finally:
                host_cpu = list(await asyncio.gather(*(h.close() for h in world.hosts)))
    finally:
        stack.close()

    presence = [e for e in journal if e.seq >= first_seq and "resenc" in e.path]
    admitted = [e for e in presence if e.status != 429]
    refused = [e for e in presence if e.status == 429]
    stamps = [world.real(e.at) for e in admitted]
    peak_30s = fullest(stamps, 30.0)
    starts = [
        e
        for e in admitted
        if e.path.endswith("/setStatusMessage") and e.status < 300 and "standup" in str(e.body)
    ]
    late = late_renewals(journal, set(available), set(busy), end)  # the set-up's sets included
    peak_real = world.real(peak)
    last_start = max(world.real(e.at) for e in starts) if starts else float("nan")
    start_seconds = last_start - peak_real
    meanwhile = sum(1 for t in stamps if peak_real <= t <= last_start)
    kinds: dict[str, int] = {}  # what the budget was spent on while the starts went out
    if os.environ.get("PEAK_DEBUG"):
        per_second = [0] * (int(last_start - peak_real) + 2)
        for t in stamps:
            if peak_real <= t <= last_start + 1:
                per_second[int(t - peak_real)] += 1
        print("per second from 09:00:", per_second, file=sys.stderr)
    for e, t in zip(admitted, stamps, strict=True):
        if peak_real <= t <= last_start:
            action = e.path.rsplit("/", 1)[-1]
            kinds[action] = kinds.get(action, 0) + 1
    minimum = meanwhile / (BUDGET / 30)
    polls = sum(1 for e in presence if e.path.endswith("/getPresencesByUserId"))
    per_tick = polls / max(1, len(watch_ticks))
    poll_minimum = math.ceil(len(watched) / PRESENCE_BATCH_LIMIT)
    return [
        f"Peak hour {peak:%A %Y-%m-%d} 08:55-09:30 UTC: {size.users:,} users,"
        f" {size.schedules:,} daily schedules at 09:00 (begun up to {ages} years ago),"
        f" {size.available:,} held Available + {size.busy:,} held Busy, 3 watches over"
        f" {size.watched:,} users, {hosts} hosts (GRAPH_CONCURRENCY {concurrency}), HTTP reads every 0.25 s;",
        f"each host and the emulator in its own process, +{latency_ms} ms a request, Graph's throttle at"
        f" {BUDGET:,} per 30 s per app. Set-up {setup_seconds:.0f} s, run {run_seconds:.0f} s real, hosts'"
        f" CPU {' + '.join(f'{c:.0f}' for c in host_cpu)} s ({host_log} has their warnings).",
        "",
        f"{'schedule starts applied':<44}{len(starts):>10,} of {size.schedules:,}",
        f"{'presence requests (admitted / refused 429)':<44}{len(admitted):>10,} / {len(refused):,}",
        f"{'HTTP reads answered / refused':<44}{stats['ok']:>10,} / {sum(stats.values()) - stats['ok']:,}",
        f"{'watch ticks, getPresencesByUserId calls':<44}{len(watch_ticks):>10,}, {polls:,}",
        f"{'while starting':<44}"
        + ", ".join(f"{n:,} {k}" for k, n in sorted(kinds.items(), key=lambda i: -i[1])),
        "",
        f"renewals late (faded or lapsed): {late} of {len(available) + len(busy):,} held sessions",
        f"starts: all {len(starts):,} in {start_seconds:.0f} s against a budget-bound minimum of"
        f" {minimum:.0f} s ({meanwhile:,} requests at {BUDGET / 30:.0f}/s) = {start_seconds / minimum:.2f}x",
        f"peak requests in any 30 s: {peak_30s:,} = {peak_30s / BUDGET:.2f}x the budget; 429s received:"
        f" {len(refused)}",
        f"Graph calls per watch tick: {per_tick:.2f} = {per_tick / poll_minimum:.2f}x the minimum"
        f" (ceil({len(watched):,}/650) = {poll_minimum})",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's size (20,000 users ...)")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--max-age-years", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8, help="GRAPH_CONCURRENCY of each host")
    parser.add_argument("--host", action="store_true", help=argparse.SUPPRESS)  # one host process
    args = parser.parse_args()
    if args.host:
        asyncio.run(host_main())
        return 0
    size = FULL if args.full else Size(*(max(1, v // 10) for v in vars(FULL).values()))
    for line in asyncio.run(run(size, args.hosts, args.latency_ms, args.max_age_years, args.concurrency)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
