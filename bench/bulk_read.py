"""Benchmark: `POST /api/presence/query` for 10,000 users given by UPN, through the service's presence reader,
against Azurite and the Graph emulator (its own process, with added latency per HTTP request). Cold cache,
then warm; one-at-a-time reads (`GET /api/users/{upn}/presence`, one after another) are measured on a sample
of other users and extrapolated. Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/bulk_read.py [--users 10000] [--latency-ms 40] [--sample 40]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from localdev.graph import EmulatorControl, JournalEntry  # noqa: E402
from localdev.stack import Stack  # noqa: E402
from shared.api.models import PresenceQueryResult  # noqa: E402
from shared.app import Services, build_services  # noqa: E402
from shared.platform.config import Settings  # noqa: E402
from shared.platform.graph import PRESENCE_BATCH_LIMIT, USER_BATCH_LIMIT  # noqa: E402

# Unequal domains (cache partitions), as in a tenant with a few verified domains.
DOMAIN_SHARES = {"contoso.test": 0.4, "fabrikam.test": 0.3, "northwind.test": 0.25, "tailspin.test": 0.05}


@dataclass(frozen=True)
class Phase:
    name: str
    users: int
    graph_calls: int  # HTTP requests Graph received: a $batch counts once, its inner requests not at all
    minimum: int
    batches: int
    presence_reads: int
    direct_lookups: int
    seconds: float


@dataclass(frozen=True)
class Results:
    users: int
    latency_ms: int
    concurrency: int
    cold: Phase
    warm: Phase
    solo_cold: Phase
    solo_warm: Phase
    uncached: Phase


def upns_for(count: int, prefix: str) -> list[str]:
    sizes = {domain: int(count * share) for domain, share in DOMAIN_SHARES.items()}
    sizes["contoso.test"] += count - sum(sizes.values())
    return [f"{prefix}{n:05d}@{domain}" for domain, size in sizes.items() for n in range(size)]


async def measure(
    graph: EmulatorControl, name: str, users: int, minimum: int, run: Callable[[], Awaitable[object]]
) -> Phase:
    await graph.clear_journal()
    started = time.perf_counter()
    await run()
    seconds = time.perf_counter() - started
    calls = [e for e in await graph.journal() if e.batch_request_id is None]

    def count(keep: Callable[[JournalEntry], bool]) -> int:
        return sum(1 for e in calls if keep(e))

    return Phase(
        name=name,
        users=users,
        graph_calls=len(calls),
        minimum=minimum,
        batches=count(lambda e: e.path == "/v1.0/$batch"),
        presence_reads=count(lambda e: e.path.endswith("/presence") or "getPresencesByUserId" in e.path),
        direct_lookups=count(lambda e: e.path.startswith("/v1.0/users/") and "/presence" not in e.path),
        seconds=seconds,
    )


async def bulk_query(services: Services, upns: list[str]) -> PresenceQueryResult:
    result = await services.presence.query(upns)
    if len(result.value) != len(upns) or result.errors:
        raise SystemExit(
            f"bulk query answered {len(result.value)} of {len(upns)}; {len(result.errors)} errors"
        )
    return result


async def one_at_a_time(services: Services, upns: list[str]) -> None:
    for upn in upns:
        await services.presence.read(upn)


async def run(users: int, latency_ms: int, sample: int) -> Results:
    stack = Stack(app_dir=REPO_ROOT, users="none")
    try:
        stack.azurite.start()
        stack.start_graph()
        env = {
            "GRAPH_BASE_URL": stack.graph_base_url,
            "TABLES_CONNECTION_STRING": stack.azurite.connection_string,
            "TABLE_PREFIX": "bench",
        }
        settings = Settings.from_env(env)
        services = build_services(settings)
        try:
            async with EmulatorControl(stack.graph_url) as graph:
                bulk, solo = upns_for(users, "user"), upns_for(sample, "solo")
                await graph.seed_users([{"userPrincipalName": upn} for upn in bulk + solo])
                await graph.latency(fixed_ms=latency_ms)
                presence_calls = math.ceil(users / PRESENCE_BATCH_LIMIT)
                lookups = math.ceil(users / USER_BATCH_LIMIT)
                query = partial(bulk_query, services, bulk)
                cold = await measure(graph, "bulk, cold cache", users, lookups + presence_calls, query)
                warm = await measure(graph, "bulk, warm cache", users, presence_calls, query)
                one_by_one = partial(one_at_a_time, services, solo)
                solo_cold = await measure(graph, "one at a time, cold", sample, 2 * sample, one_by_one)
                solo_warm = await measure(graph, "one at a time, warm", sample, sample, one_by_one)
                # The same cold query without the cache (USER_CACHE_HOURS=0): what Graph alone costs.
                uncached_services = build_services(Settings.from_env({**env, "USER_CACHE_HOURS": "0"}))
                try:
                    uncached_query = partial(bulk_query, uncached_services, bulk)
                    uncached = await measure(
                        graph, "bulk, no cache", users, lookups + presence_calls, uncached_query
                    )
                finally:
                    await uncached_services.tables.close()
        finally:
            await services.tables.close()
    finally:
        stack.close()
    return Results(users, latency_ms, settings.graph_concurrency, cold, warm, solo_cold, solo_warm, uncached)


def row(name: str, users: int, calls: float, minimum: str, batches: str, presence: str, direct: str) -> str:
    return f"{name:<22}{users:>8,}{calls:>13,.0f}{minimum:>9}{batches:>8}{presence:>10}{direct:>8}"


def ideal(p: Phase, r: Results) -> float:
    return math.ceil(p.graph_calls / r.concurrency) * r.latency_ms / 1000


def report(r: Results, elapsed: float) -> list[str]:
    scale = r.users / r.solo_cold.users
    solo_cold_s, solo_warm_s = r.solo_cold.seconds * scale, r.solo_warm.seconds * scale
    lines = [
        f"Bulk read of {r.users:,} users by UPN in {len(DOMAIN_SHARES)} domains. Graph emulator in its own "
        f"process, +{r.latency_ms} ms per HTTP request; GRAPH_CONCURRENCY={r.concurrency}; Azurite.",
        "",
        f"{'phase':<22}{'users':>8}{'Graph calls':>13}{'minimum':>9}{'$batch':>8}{'presence':>10}"
        f"{'direct':>8}{'wall s':>9}",
    ]
    for p in (r.cold, r.warm, r.uncached, r.solo_cold, r.solo_warm):
        counts = (f"{p.minimum:,}", f"{p.batches:,}", f"{p.presence_reads:,}", f"{p.direct_lookups:,}")
        lines.append(row(p.name, p.users, p.graph_calls, *counts) + f"{p.seconds:>9.2f}")
    for p, seconds in ((r.solo_cold, solo_cold_s), (r.solo_warm, solo_warm_s)):
        lines.append(
            row(p.name, r.users, p.graph_calls * scale, "", "", "", "")
            + f"{seconds:>9.0f}  extrapolated x{scale:,.0f} from the {p.users} above"
        )
    lines += [
        "",
        f"Without the cache (USER_CACHE_HOURS=0) the cold query takes {r.uncached.seconds:.1f} s: the other"
        f" {r.cold.seconds - r.uncached.seconds:.1f} s are the cache reads and the writes of {r.users:,}"
        " rows in transactions of 100, slow on Azurite (on Azure a transaction is one round trip).",
        "Ideal wall time, if Graph's latency were the only cost (ceil(calls / GRAPH_CONCURRENCY) rounds of "
        f"{r.latency_ms} ms): "
        + ", ".join(
            f"{p.name} {ideal(p, r):.2f} s (measured {p.seconds / ideal(p, r):.1f}x)"
            for p in (r.cold, r.warm, r.uncached)
        )
        + ".",
        f"The benchmark ran {elapsed:.0f} s.",
        "",
        f"headline: Graph calls {r.cold.graph_calls:,} cold / {r.warm.graph_calls:,} warm ="
        f" {r.cold.graph_calls / r.cold.minimum:.2f}x / {r.warm.graph_calls / r.warm.minimum:.2f}x the"
        f" minimum (ceil(n/20)+ceil(n/650) / ceil(n/650)); wall {r.cold.seconds:.1f} s /"
        f" {r.warm.seconds:.1f} s vs ~{solo_cold_s:,.0f} s / ~{solo_warm_s:,.0f} s one at a time"
        f" (extrapolated from {r.solo_cold.users} users) = {solo_cold_s / r.cold.seconds:,.0f}x /"
        f" {solo_warm_s / r.warm.seconds:,.0f}x faster",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users in the bulk query (1-10,000)")
    parser.add_argument("--latency-ms", type=int, default=40, help="latency the emulator adds per request")
    parser.add_argument("--sample", type=int, default=40, help="users read one at a time, to extrapolate")
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(run(args.users, args.latency_ms, args.sample))
    print("\n".join(report(results, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
