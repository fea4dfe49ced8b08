"""Benchmark: one `apply_schedules` tick with the same schedules due among 1,000 and among 100,000 stored
ones, against Azurite and the Graph emulator (in-process, no added latency). The tick should read about as
many rows as are due, whatever is stored: the due index (Timeline) is one RowKey range read per shard
partition. Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/schedule_tick.py [--sizes 1000 100000] [--due 50] [--full]

Each run stores N schedules: D one-off schedules created through the service (ScheduleService.create) that
start a minute later, and N-D others due a day or more later, bulk-loaded as the rows the service writes
(Timeline entries via due_keys, ScheduleIndex rows, and with --full their Schedules rows via
record_to_entity). Then one tick starts the D occurrences and one at their end ends them.

Without --full the N-D far-future schedules have their Timeline and ScheduleIndex rows but no Schedules
row: on Azurite 100,000 Schedules rows (each its own partition, so one insert each) add ~4 minutes to a run
that otherwise takes ~3. The tick reads Schedules rows by id, for due entries only, so it would meet them
only by scanning; --full stores them, to check exactly that.

Rows read are counted on the wire: the service's TableServiceClient is built with azure-core's
`raw_response_hook`, which counts the entities in every response it receives (retries included).

Rows read carry over to Azure Table storage; tick time on Azurite does not. Azurite (LokiJS) finds a row by
scanning its partition for the RowKey and answers a query by scanning the whole table, so every Timeline
read and write costs in proportion to the ~25,000 entries in each of its 4 shard partitions at 100,000 (the
load shows it: Timeline rows take 10x as long as as many ScheduleIndex rows in partitions of 100); and while
anything changed it saves its whole database every 5 s, stalling every request (~0.8 s with 60,000
Schedules rows stored), which is why even the 50-row Holds table answers slower at 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp.test_utils import TestServer
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.data.tables import AccountSasPermissions, ResourceTypes, generate_account_sas
from azure.data.tables.aio import TableServiceClient

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

import shared.platform.tables  # noqa: E402
from localdev.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite  # noqa: E402
from localdev.graph import EmulatorControl, create_app  # noqa: E402
from shared.api.models import ScheduleInput  # noqa: E402
from shared.app import Services, build_services  # noqa: E402
from shared.audit.store import AuditLog  # noqa: E402
from shared.holds.store import HoldStore  # noqa: E402
from shared.platform.clock import Clock  # noqa: E402
from shared.platform.config import Settings  # noqa: E402
from shared.platform.keys import encode_key  # noqa: E402
from shared.platform.timeline import Timeline, due_keys  # noqa: E402
from shared.schedules.store import ScheduleRecord, ScheduleStore, record_to_entity  # noqa: E402

CALLER = "bench"
MESSAGE = "Focus time"
PER_OWNER = 100  # stored schedules per (synthetic) user: an index partition fills one transaction
TRANSACTION = 100  # Table storage: at most 100 operations per transaction, all in one partition
SINGLES_IN_FLIGHT = 32
TRANSACTIONS_IN_FLIGHT = 4


# --- counting what the service reads --------------------------------------------------------------------


@dataclass
class StorageCounter:
    """Fed by every HTTP request and response of the service's Table clients, per table (prefix removed)."""

    prefix: str
    rows: Counter[str] = field(default_factory=Counter)  # entities received
    reads: Counter[str] = field(default_factory=Counter)  # GET requests (point reads and query pages)
    writes: Counter[str] = field(default_factory=Counter)  # POST/PUT/MERGE/PATCH/DELETE requests
    seconds: Counter[str] = field(default_factory=Counter)  # time from sending to the answer, summed

    def clear(self) -> None:
        for counts in (self.rows, self.reads, self.writes, self.seconds):
            counts.clear()

    def sent(self, request: PipelineRequest) -> None:
        request.context["bench_sent"] = time.perf_counter()

    def answered(self, response: PipelineResponse) -> None:
        request, answer = response.http_request, response.http_response
        table = _table_of(request.url).removeprefix(self.prefix)
        self.seconds[table] += time.perf_counter() - response.context["bench_sent"]
        if request.method != "GET":
            self.writes[table] += 1
            return
        self.reads[table] += 1
        if answer.status_code != 200 or table == "Tables":
            return
        body = json.loads(answer.body())
        # A query page answers {"value": [...]}, a point read the entity itself.
        self.rows[table] += len(body["value"]) if "value" in body else 1


def _table_of(url: str) -> str:
    """The table a request is about: `/devstoreaccount1/Timeline()`, `/.../Schedules(PartitionKey=..)`."""
    last = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return last.split("(", 1)[0]


@contextmanager
def observed_tables(counter: StorageCounter) -> Iterator[None]:
    """Services built inside get a TableServiceClient that reports to `counter`: azure-core's
    `raw_request_hook` and `raw_response_hook`, given as keywords like shared.platform.tables'
    own client options (every table client it hands out shares them)."""

    class ObservedTableServiceClient(TableServiceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            hooks = {"raw_request_hook": counter.sent, "raw_response_hook": counter.answered}
            super().__init__(*args, **hooks, **kwargs)

    with mock.patch.object(shared.platform.tables, "TableServiceClient", ObservedTableServiceClient):
        yield


# --- loading the stored schedules -----------------------------------------------------------------------


def owner_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def due_user_id(n: int) -> str:
    return f"d0e00000-0000-4000-8000-{n:012d}"


def stored_record(n: int, start: datetime, t0: datetime) -> ScheduleRecord:
    """A one-off schedule far in the future, as ScheduleService.create records it."""
    user_id = owner_id(n // PER_OWNER)
    return ScheduleRecord(
        id=f"{n:032x}",
        user=user_id,
        user_id=user_id,
        start=_iso(start),
        end=_iso(start + timedelta(minutes=30)),
        time_zone=None,
        recurrence=None,
        status_message=MESSAGE,
        presence=None,
        preferred_presence=None,
        restore_previous=True,
        status="scheduled",
        created_at=t0,
        created_by=CALLER,
        updated_at=t0,
    )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _odata(entity: dict[str, Any]) -> dict[str, Any]:
    """An entity as Table storage's JSON wants it (the types record_to_entity produces)."""
    out: dict[str, Any] = {}
    for name, value in entity.items():
        if isinstance(value, datetime):
            out[name] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out[f"{name}@odata.type"] = "Edm.DateTime"
        elif isinstance(value, bool | str) or (isinstance(value, int) and -(2**31) <= value < 2**31):
            out[name] = value
        else:
            raise TypeError(f"{name}: {type(value).__name__} is not loaded by this benchmark")
    return out


class BulkLoader:
    """Inserts rows straight into the tables, bypassing the service (and its counter), over plain aiohttp
    with an account SAS. azure-data-tables spends ~1.6 ms of CPU per insert and ~0.5 ms per row of a
    transaction (it builds and parses the multipart bodies with the email package), so on two cores 100,000
    schedules would take minutes; this sends the same requests for a fraction of that. Schedules rows are one
    per partition, so each is its own insert (a bounded number in flight); index and Timeline rows share
    partitions and go in transactions of 100 (Table storage's limit, one partition each)."""

    def __init__(self, azurite: Azurite, prefix: str) -> None:
        self._endpoint = azurite.table_endpoint
        self._prefix = prefix
        self._service = TableServiceClient.from_connection_string(azurite.connection_string)
        self._headers = {
            "x-ms-version": "2019-02-02",
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0",
        }
        credential = AzureNamedKeyCredential(ACCOUNT_NAME, ACCOUNT_KEY)
        self._sas = generate_account_sas(
            credential,
            resource_types=ResourceTypes(object=True),
            permission=AccountSasPermissions(add=True, write=True),
            expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SINGLES_IN_FLIGHT))
        self._singles = asyncio.Semaphore(SINGLES_IN_FLIGHT)
        self._transactions = asyncio.Semaphore(TRANSACTIONS_IN_FLIGHT)

    async def close(self) -> None:
        await self._http.close()
        await self._service.close()

    async def _create_table(self, name: str) -> None:
        await self._service.create_table_if_not_exists(name)

    async def insert_each(self, suffix: str, entities: list[dict[str, Any]]) -> None:
        name = f"{self._prefix}{suffix}"
        await self._create_table(name)
        url = f"{self._endpoint}/{name}?{self._sas}"
        headers = {
            **self._headers,
            "Accept": "application/json;odata=nometadata",
            "Prefer": "return-no-content",
        }

        async def insert(entity: dict[str, Any]) -> None:
            async with self._singles, self._http.post(url, json=_odata(entity), headers=headers) as r:
                if r.status != 204:
                    raise SystemExit(f"insert into {name} answered {r.status}: {await r.text()}")

        await asyncio.gather(*(insert(e) for e in entities))

    async def insert_grouped(self, suffix: str, entities: list[dict[str, Any]]) -> None:
        name = f"{self._prefix}{suffix}"
        await self._create_table(name)
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for entity in entities:
            by_partition.setdefault(entity["PartitionKey"], []).append(entity)
        await asyncio.gather(
            *(
                self._transaction(name, rows[i : i + TRANSACTION])
                for rows in by_partition.values()
                for i in range(0, len(rows), TRANSACTION)
            )
        )

    async def _transaction(self, name: str, rows: list[dict[str, Any]]) -> None:
        """One entity group transaction (POST $batch, a changeset of inserts), as the Table REST API
        describes it."""
        batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
        parts = [f"--{batch}", f"Content-Type: multipart/mixed; boundary={changeset}", ""]
        for row in rows:
            parts += [
                f"--{changeset}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                "",
                f"POST {self._endpoint}/{name} HTTP/1.1",
                "Content-Type: application/json",
                "Accept: application/json;odata=nometadata",
                "Prefer: return-no-content",
                "DataServiceVersion: 3.0",
                "",
                json.dumps(_odata(row)),
            ]
        parts += [f"--{changeset}--", f"--{batch}--", ""]
        headers = {**self._headers, "Content-Type": f"multipart/mixed; boundary={batch}"}
        url = f"{self._endpoint}/$batch?{self._sas}"
        async with self._transactions, self._http.post(url, data="\r\n".join(parts), headers=headers) as r:
            answer = await r.text()
            failed = re.search(r"HTTP/1\.1 ([45]\d\d)", answer)
            if r.status != 202 or failed:
                raise SystemExit(f"a transaction on {name} failed ({r.status}): {answer[:500]}")


@dataclass(frozen=True)
class Load:
    rows: dict[str, int]
    seconds: dict[str, float]


async def load(azurite: Azurite, prefix: str, count: int, t0: datetime, *, full: bool) -> Load:
    """Store `count` schedules due from a day after t0 on, one every 30 s (their Schedules rows only when
    `full`). One table after another: Azurite serves one request at a time anyway, and it saves its whole
    database every 5 s, so the big Schedules rows go last."""
    first = t0 + timedelta(days=1)
    records = [stored_record(n, first + timedelta(seconds=30 * n), t0) for n in range(count)]
    timeline = []
    for r in records:
        pk, rk = due_keys(datetime.fromisoformat(r.start), "schedule", r.id)
        timeline.append({"PartitionKey": pk, "RowKey": rk, "Kind": "schedule", "Ref": r.id})
    index = [{"PartitionKey": encode_key(r.user_id), "RowKey": r.id} for r in records]
    tables = [(Timeline.SUFFIX, timeline), (ScheduleStore.INDEX, index)]
    if full:
        tables.append((ScheduleStore.SUFFIX, [record_to_entity(r) for r in records]))
    rows, seconds = {}, {}
    loader = BulkLoader(azurite, prefix)
    try:
        for suffix, entities in tables:
            started = time.perf_counter()
            if suffix == ScheduleStore.SUFFIX:
                await loader.insert_each(suffix, entities)
            else:
                await loader.insert_grouped(suffix, entities)
            rows[suffix], seconds[suffix] = len(entities), time.perf_counter() - started
    finally:
        await loader.close()
    return Load(rows, seconds)


# --- one run: N stored, D due ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    steps: int
    seconds: float
    rows: Counter[str]
    reads: Counter[str]
    writes: Counter[str]
    storage_seconds: Counter[str]
    graph: Counter[str]  # HTTP requests Graph received, by the last segment of their path

    @property
    def rows_read(self) -> int:
        return sum(self.rows.values())

    @property
    def graph_calls(self) -> int:
        return sum(self.graph.values())


@dataclass(frozen=True)
class Run:
    stored: int
    due: int
    concurrency: int  # GRAPH_CONCURRENCY: schedules the tick works on at once
    load: Load
    start: Tick
    end: Tick


async def measure_tick(services: Services, counter: StorageCounter, graph: EmulatorControl) -> Tick:
    counter.clear()
    await graph.clear_journal()
    started = time.perf_counter()
    steps = await services.engine.tick()
    seconds = time.perf_counter() - started
    calls = [e for e in await graph.journal() if e.batch_request_id is None]
    return Tick(
        steps=steps,
        seconds=seconds,
        rows=Counter(counter.rows),
        reads=Counter(counter.reads),
        writes=Counter(counter.writes),
        storage_seconds=Counter(counter.seconds),
        graph=Counter(e.path.rsplit("/", 1)[-1] for e in calls),
    )


def settings_for(azurite: Azurite, graph_url: str, prefix: str) -> Settings:
    return Settings.from_env(
        {
            "GRAPH_BASE_URL": f"{graph_url}/v1.0",
            "TABLES_CONNECTION_STRING": azurite.connection_string,
            "TABLE_PREFIX": prefix,
        }
    )


async def run_one(azurite: Azurite, stored: int, due: int, *, full: bool) -> Run:
    prefix = f"tick{stored}"
    t0 = datetime.now(UTC).replace(microsecond=0)
    start, end = t0 + timedelta(minutes=1), t0 + timedelta(hours=1)
    clock = Clock()
    clock.set_now(t0, frozen=True)
    loaded = await load(azurite, prefix, stored - due, t0, full=full)

    server = TestServer(create_app(users=None), host="127.0.0.1")  # a fresh emulator: the same Graph state
    await server.start_server()
    try:
        graph_url = str(server.make_url("")).rstrip("/")
        counter = StorageCounter(prefix)
        with observed_tables(counter):
            services = build_services(settings_for(azurite, graph_url, prefix), clock)
        try:
            async with EmulatorControl(graph_url) as graph:
                users = [
                    {"userPrincipalName": f"due{n:03d}@contoso.test", "id": due_user_id(n)}
                    for n in range(due)
                ]
                await graph.seed_users(users)
                for user in users:  # the due schedules, created as the API creates them
                    body = {
                        "user": user["id"],
                        "start": _iso(start),
                        "end": _iso(end),
                        "statusMessage": MESSAGE,
                    }
                    await services.schedules.create(CALLER, ScheduleInput.model_validate(body), None)
                if full:  # a bulk-loaded row reads back as the record it came from
                    expected = stored_record(0, t0 + timedelta(days=1), t0)
                    if (await services.schedules.store.get(expected.id))[0] != expected:
                        raise SystemExit("a bulk-loaded Schedules row does not read back as its record")
                for suffix in (HoldStore.SUFFIX, AuditLog.SUFFIX):  # tables the tick writes: create them now
                    await services.tables.table(suffix)
                clock.set_now(start, frozen=True)
                started = await measure_tick(services, counter, graph)
                clock.set_now(end, frozen=True)
                ended = await measure_tick(services, counter, graph)
        finally:
            await services.tables.close()
    finally:
        await server.close()
    if started.rows_read == 0:
        raise SystemExit("no rows counted: does shared.platform.tables still build a TableServiceClient?")
    return Run(stored, due, services.settings.graph_concurrency, loaded, started, ended)


async def run(sizes: list[int], due: int, full: bool) -> list[Run]:
    with Azurite() as azurite:  # a fresh temporary directory, removed on exit
        return [await run_one(azurite, stored, due, full=full) for stored in sizes]


# --- the report -----------------------------------------------------------------------------------------


def _by_table(counts: Counter[str], unit: str = "") -> str:
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    if unit:
        return ", ".join(f"{name} {value:.2f}{unit}" for name, value in ordered)
    return ", ".join(f"{name} {value:,}" for name, value in ordered) or "none"


def report(runs: list[Run], full: bool, elapsed: float) -> list[str]:
    concurrency = runs[0].concurrency
    stored_rows = "Timeline, ScheduleIndex and Schedules rows" if full else "Timeline and ScheduleIndex rows"
    lines = [
        "apply_schedules: a tick that starts D one-off occurrences, then one that ends them, among N stored",
        f"schedules (the other N-D bulk-loaded as {stored_rows}, due a day or more later).",
        f"Azurite; the Graph emulator in-process, no added latency; GRAPH_CONCURRENCY={concurrency}.",
        "",
        f"{'tick':<7}{'N stored':>10}{'D due':>7}{'steps':>7}{'rows read':>11}{'GETs':>7}{'writes':>8}"
        f"{'Graph calls':>13}{'tick s':>9}",
    ]
    for r in runs:
        for name, t in (("start", r.start), ("end", r.end)):
            lines.append(
                f"{name:<7}{r.stored:>10,}{r.due:>7}{t.steps:>7}{t.rows_read:>11,}{sum(t.reads.values()):>7,}"
                f"{sum(t.writes.values()):>8,}{t.graph_calls:>13,}{t.seconds:>9.2f}"
            )
    lines.append("")
    for r in runs:
        loaded = ", ".join(
            f"{name} {r.load.rows[name]:,} rows {s:.1f} s" for name, s in r.load.seconds.items()
        )
        lines.append(f"load, N={r.stored:,}: {loaded}")
    for r in runs:
        for name, t in (("start", r.start), ("end", r.end)):
            lines += [
                f"{name} tick, N={r.stored:,}:",
                f"  rows read        {_by_table(t.rows)}",
                f"  writes           {_by_table(t.writes)}",
                f"  storage time     {_by_table(t.storage_seconds, ' s')}",
                f"  Graph            {_by_table(t.graph)}",
            ]
    small, big = runs[0], runs[-1]
    lines += [
        "",
        "Rows read: the entities in the responses the service's Table client received (an azure-core",
        "raw_response_hook); a GET that found nothing is a GET, not a row. Storage time: each request's",
        "latency, summed (up to GRAPH_CONCURRENCY schedules go at once). Graph calls: HTTP requests in the",
        "emulator's journal.",
        f"The benchmark ran {elapsed:.0f} s.",
        "",
        f"headline: rows read with {big.stored:,} / {small.stored:,} stored, {big.due} due:"
        f" start {big.start.rows_read:,} / {small.start.rows_read:,} ="
        f" {big.start.rows_read / small.start.rows_read:.2f}x, end {big.end.rows_read:,} /"
        f" {small.end.rows_read:,} = {big.end.rows_read / small.end.rows_read:.2f}x;"
        f" tick time {big.start.seconds / small.start.seconds:.2f}x /"
        f" {big.end.seconds / small.end.seconds:.2f}x",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000], help="schedules stored")
    parser.add_argument("--due", type=int, default=50, help="schedules due in each tick (at most 1,000)")
    parser.add_argument("--full", action="store_true", help="store every schedule's Schedules row (slow)")
    args = parser.parse_args()
    if not 0 < args.due <= 1000 or any(size <= args.due for size in args.sizes):
        parser.error("--due must be 1-1,000 and every size larger")
    started = time.perf_counter()
    runs = asyncio.run(run(sorted(args.sizes), args.due, args.full))
    print("\n".join(report(runs, args.full, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
