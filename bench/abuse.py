"""Benchmark: a caller who pushes, through the local host in `entra` mode, for a bounded time. Each phase
repeats one of the worst requests a signed-in caller can send (several at once) for --seconds, and prints
what it made the service spend: Graph calls (the emulator's journal) and Table storage round trips (a
counting proxy between the app and Azurite), per request and per distinct user named, against what one
honest request naming that user once costs. Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/abuse.py [--seconds 5] [--workers 4]

Phases (each --seconds, so 30 s in all by default):
  her UPN x10,000  Alice (self only) queries her own presence naming herself 9,998 times, in upper case
                   and by id: one distinct user.
  watch x5,000     Alice asks for a watch of herself naming her 5,000 times: up to MAX_WATCHES_PER_USER,
                   then 409s.
  unknown x2,000   a reader app queries the same 2,000 UPNs nobody has: misses cached for
                   USER_CACHE_MISS_MINUTES.
  health           anonymous GET /api/health: Graph and storage at most once per HEALTH_CHECK_SECONDS.
  hostile JSON     a 5,000-digit durationMinutes and 30,000-deep nesting: 400s before anything is read.
  schedules        Alice creates schedules for herself: up to MAX_SCHEDULES_PER_USER, then 409s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl  # noqa: E402
from localdev.graph.demo import ALICE_ID  # noqa: E402
from localdev.ports import LOOPBACK, free_port  # noqa: E402
from localdev.stack import Stack  # noqa: E402

TENANT = "7e4a0000-0000-4000-8000-0000000000aa"
AUDIENCE = "api://presence-bench"
ALICE_UPN = "alice@contoso.test"
HOOK = "https://hooks.example.test/flow"


def principal(claims: list[tuple[str, str]]) -> dict[str, str]:
    document = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims], "role_typ": "roles"}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(document).encode()).decode()}


USER_CLAIMS = [("aud", AUDIENCE), ("tid", TENANT), ("scp", "user_impersonation")]
ALICE = principal([*USER_CLAIMS, ("oid", ALICE_ID), ("preferred_username", ALICE_UPN)])
READER_APP = "c11e4700-0000-4000-8000-0000000000bb"
READER = principal(
    [
        ("aud", AUDIENCE),
        ("tid", TENANT),
        ("azp", READER_APP),
        ("idtyp", "app"),
        ("roles", "Presence.Read.All"),
    ]
)


class StorageCounter:
    """A reverse proxy in front of Azurite that counts the app's round trips: GETs are reads, the rest
    writes (a batch transaction is one round trip)."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target = f"http://{LOOPBACK}:{target_port}"
        self.counts: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, LOOPBACK, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        self.counts["reads" if request.method == "GET" else "writes"] += 1
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        assert self._session is not None
        # A batch transaction names each row by its full URL: Azurite wants its own address there.
        body = (await request.read()).replace(
            f"{LOOPBACK}:{self.port}/".encode(), f"{self.target[7:]}/".encode()
        )
        url = URL(self.target + request.raw_path, encoded=True)  # as signed: never re-quoted
        # No body, no data: aiohttp would add a Content-Type, which the request's signature covers.
        async with self._session.request(request.method, url, headers=headers, data=body or None) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in skip}
            return web.Response(status=answer.status, body=body, headers=kept)


@dataclass(frozen=True)
class Cost:
    requests: int
    graph: int
    reads: int
    writes: int
    statuses: dict[int, int]

    def per_request(self, what: str) -> float:
        return getattr(self, what) / max(1, self.requests)


Send = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


async def measure(
    session: aiohttp.ClientSession,
    graph: EmulatorControl,
    storage: StorageCounter,
    send: Send,
    *,
    seconds: float | None,
    workers: int,
    times: int = 1,
) -> Cost:
    """Run `send` for `seconds` with `workers` at once (or `times` times, one after another), and count."""
    await graph.clear_journal()
    before = Counter(storage.counts)
    statuses: Counter[int] = Counter()
    sent = 0

    async def worker(index: int) -> None:
        nonlocal sent
        deadline = time.monotonic() + (seconds or 0)
        n = index
        while True:
            if seconds is None and n >= times:
                return
            if seconds is not None and time.monotonic() >= deadline:
                return
            statuses[await send(session, n)] += 1
            sent += 1
            n += workers if seconds is not None else 1

    await asyncio.gather(*(worker(i) for i in range(workers if seconds is not None else 1)))
    journal = await graph.journal()
    graph_calls = len([e for e in journal if e.batch_request_id is None])
    after = storage.counts
    return Cost(
        sent,
        graph_calls,
        after["reads"] - before["reads"],
        after["writes"] - before["writes"],
        dict(statuses),
    )


def call(method: str, path: str, headers: dict[str, str] | None = None, **body: Any) -> Send:
    async def send(session: aiohttp.ClientSession, _: int) -> int:
        async with session.request(method, path, headers=headers, **body) as answer:
            await answer.read()
            return answer.status

    return send


async def run(seconds: float, workers: int) -> list[tuple[str, Cost, Cost, int]]:
    env = {
        "CALLER_AUTH": "entra",
        "WEBSITE_AUTH_ENABLED": "true",
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_AUDIENCES": AUDIENCE,
    }
    stack = Stack(app_dir=REPO_ROOT, run_timers=False, env=env)
    storage = StorageCounter(stack.azurite.port)
    await storage.start()
    stack.env["TABLES_CONNECTION_STRING"] = stack.azurite.connection_string.replace(
        f":{stack.azurite.port}/", f":{storage.port}/"
    )
    # Started in a thread: the proxy serves on this loop while the host starts (and creates its tables).
    await asyncio.to_thread(stack.start)
    with stack:
        try:
            async with (
                aiohttp.ClientSession(stack.host_url) as session,
                EmulatorControl(stack.graph_url) as graph,
            ):
                return await phases(session, graph, storage, seconds, workers)
        finally:
            await storage.stop()


async def phases(
    session: aiohttp.ClientSession,
    graph: EmulatorControl,
    storage: StorageCounter,
    seconds: float,
    workers: int,
) -> list[tuple[str, Cost, Cost, int]]:
    rows: list[tuple[str, Cost, Cost, int]] = []

    async def phase(name: str, honest: Send, abusive: Send, distinct: int, warm: Send | None = None) -> None:
        await measure(session, graph, storage, warm or honest, seconds=None, workers=1)  # caches warm
        one = await measure(session, graph, storage, honest, seconds=None, workers=1)
        hard = await measure(session, graph, storage, abusive, seconds=seconds, workers=workers)
        rows.append((name, one, hard, distinct))

    query = "/api/presence/query"
    her_many = [ALICE_UPN] * 9_998 + [ALICE_UPN.upper(), ALICE_ID]
    await phase(
        "her UPN x10,000 (query)",
        call("POST", query, ALICE, json={"users": [ALICE_UPN]}),
        call("POST", query, ALICE, json={"users": her_many}),
        1,
    )

    async def watch_once(session: aiohttp.ClientSession, _: int) -> int:
        async with session.post(
            "/api/watches", headers=ALICE, json={"users": [ALICE_UPN], "callbackUrl": HOOK}
        ) as made:
            body = await made.json()
        assert made.status == 201, body
        async with session.delete(f"/api/watches/{body['id']}", headers=ALICE) as gone:
            await gone.read()
        return made.status

    await phase(
        "watch x5,000 (then capped)",
        watch_once,
        call("POST", "/api/watches", ALICE, json={"users": [ALICE_UPN] * 5_000, "callbackUrl": HOOK}),
        1,
    )
    ghosts = [f"ghost{n:04d}@contoso.test" for n in range(2_000)]
    await phase(
        "unknown x2,000 (reader app)",
        call("POST", query, READER, json={"users": ["ghost-honest@contoso.test"]}),
        call("POST", query, READER, json={"users": ghosts}),
        2_000,
        warm=call("POST", query, READER, json={"users": [*ghosts, "ghost-honest@contoso.test"]}),
    )
    await phase("health (anonymous)", call("GET", "/api/health"), call("GET", "/api/health"), 1)
    digits = '{"availability": "Busy", "activity": "InACall", "durationMinutes": ' + "9" * 5_000 + "}"
    deep = '{"message": ' + "[" * 30_000 + "]" * 30_000 + "}"  # under the 64 KiB body limit
    json_headers = {**ALICE, "content-type": "application/json"}

    async def hostile(session: aiohttp.ClientSession, n: int) -> int:
        path = f"/api/users/{ALICE_UPN}/presence/" + ("session" if n % 2 else "status-message")
        async with session.put(path, headers=json_headers, data=digits if n % 2 else deep) as answer:
            await answer.read()
            return answer.status

    await phase(
        "hostile JSON",
        call("PUT", f"/api/users/{ALICE_UPN}/presence/session", json_headers, data="{}"),
        hostile,
        1,
    )
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)

    def schedule(n: int) -> dict[str, str]:
        at = start + timedelta(hours=n % 10_000)
        end = (at + timedelta(minutes=30)).isoformat()
        return {"user": ALICE_ID, "start": at.isoformat(), "end": end, "statusMessage": "Focus"}

    async def create(session: aiohttp.ClientSession, n: int) -> int:
        async with session.post("/api/schedules", headers=ALICE, json=schedule(n + 20_000)) as answer:
            await answer.read()
            return answer.status

    async def create_and_cancel(session: aiohttp.ClientSession, n: int) -> int:
        async with session.post("/api/schedules", headers=ALICE, json=schedule(n)) as made:
            body = await made.json()
        async with session.delete(f"/api/schedules/{body['id']}", headers=ALICE) as gone:
            await gone.read()
        return made.status

    await phase("schedules (then capped)", create_and_cancel, create, 1)
    return rows


def report(rows: list[tuple[str, Cost, Cost, int]], seconds: float, workers: int) -> None:
    print(f"\nEach phase: {seconds:g} s, {workers} requests at once; costs are per request.")
    head = f"{'phase':<28} {'sent':>6} {'answers':<22} {'Graph in all':>12}"
    head += f" {'graph':>7} {'reads':>7} {'writes':>7}"
    print(head + f"   {'honest: graph reads writes':>27}   {'per distinct user vs honest':>27}")
    worst = 0.0
    for name, one, hard, distinct in rows:
        answers = ",".join(f"{s}x{c}" for s, c in sorted(hard.statuses.items()))
        ratios = []
        for what in ("graph", "reads", "writes"):
            honest = one.per_request(what)
            mine = hard.per_request(what) / distinct
            ratios.append(mine / honest if honest else (0.0 if mine == 0 else float("inf")))
        worst = max(worst, *ratios)
        pushing = "".join(f"{hard.per_request(what):>8.2f}" for what in ("graph", "reads", "writes"))
        honest = "".join(f"{one.per_request(what):>7.2f}" for what in ("graph", "reads", "writes"))
        shown = "  ".join(f"{r:5.2f}x" for r in ratios)
        line = f"{name:<28} {hard.requests:>6} {answers:<22} {hard.graph:>12}{pushing}"
        print(f"{line}   {honest:>27}   {shown:>27}")
    print(
        f"\nThe costliest pushing request spends {worst:.2f}x per distinct user what one honest request "
        "spends (goal: at most 1.00x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each phase pushes")
    parser.add_argument("--workers", type=int, default=4, help="requests in flight at once")
    args = parser.parse_args()
    rows = asyncio.run(run(args.seconds, args.workers))
    report(rows, args.seconds, args.workers)


if __name__ == "__main__":
    main()
