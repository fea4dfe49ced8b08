"""Table storage (azure-data-tables, async): the client, batches and the one error mapping (a 503
`storageUnavailable`). Tables carry TABLE_PREFIX so tests and side-by-side deployments stay apart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.platform.config import Settings
from shared.platform.errors import storage_unavailable
from shared.platform.identity import storage_credential
from shared.platform.keys import encode_key

log = logging.getLogger(__name__)

T = TypeVar("T")

# A dead storage account must not hold a request for long: few, quick retries (azure-core's policy).
_CLIENT_OPTIONS = {"retry_total": 2, "retry_backoff_factor": 0.2, "connection_timeout": 5, "read_timeout": 20}


class TableStore:
    """The account's tables for this deployment; a table is created on first use, once per process."""

    def __init__(self, settings: Settings) -> None:
        if settings.tables_connection_string:
            self._service = TableServiceClient.from_connection_string(
                settings.tables_connection_string, **_CLIENT_OPTIONS
            )
        else:
            self._service = TableServiceClient(
                endpoint=settings.tables_endpoint or "",
                credential=storage_credential(settings),
                **_CLIENT_OPTIONS,
            )
        self._prefix = settings.table_prefix
        self._ready: dict[str, asyncio.Lock] = {}
        self._created: set[str] = set()

    def name(self, suffix: str) -> str:
        return f"{self._prefix}{suffix}"

    async def table(self, suffix: str) -> TableClient:
        name = self.name(suffix)
        if name not in self._created:
            async with self._ready.setdefault(name, asyncio.Lock()):
                if name not in self._created:
                    await guarded(lambda: self._create(name))
                    self._created.add(name)
        return self._service.get_table_client(name)

    async def _create(self, name: str) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._service.create_table(name)

    async def ping(self) -> None:
        """One round trip to the account (lists at most one table)."""

        async def first_page() -> None:
            async for _ in self._service.list_tables(results_per_page=1):
                break

        await guarded(first_page)

    async def close(self) -> None:
        await self._service.close()


class Conflict(Exception):
    """Somebody else changed the row since we read it (ETag mismatch): re-read and decide again."""


async def replace_entity(table: TableClient, entity: dict[str, Any], etag: str) -> str:
    """Replace a row only if it is still the version read (its ETag); Conflict if it changed or is gone.
    Returns the new ETag."""
    try:
        result = await guarded(
            lambda: table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        raise Conflict(entity["PartitionKey"]) from None
    return str(result["etag"])


TRANSACTION_LIMIT = 100  # Table storage: at most 100 operations per transaction, all in one partition


async def submit_batches(
    table: TableClient, operations: Iterable[tuple[str, dict[str, Any]]], concurrency: int = 16
) -> None:
    """Operations (`("upsert" | "delete" | ..., entity)`) in transactions of up to 100 per partition,
    at most `concurrency` at a time: one round trip per 100 rows of a partition."""
    by_partition: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for operation in operations:
        by_partition.setdefault(operation[1]["PartitionKey"], []).append(operation)
    chunks = [
        ops[i : i + TRANSACTION_LIMIT]
        for ops in by_partition.values()
        for i in range(0, len(ops), TRANSACTION_LIMIT)
    ]
    turns = asyncio.Semaphore(concurrency)

    async def submit(chunk: list[tuple[str, dict[str, Any]]]) -> None:
        async with turns:
            await guarded(lambda: table.submit_transaction(chunk))  # type: ignore[arg-type]

    await asyncio.gather(*(submit(chunk) for chunk in chunks))


async def guarded(call: Callable[[], Awaitable[T]]) -> T:
    """Run a storage call; an outage or refusal is the service's 503, never a 500."""
    try:
        return await call()
    except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
        raise  # answers about the data (absent, present, changed), for the caller to handle
    except AzureError as exc:
        log.warning("Table storage failed: %s", type(exc).__name__)
        raise storage_unavailable(type(exc).__name__) from None


async def first_rows(
    table: TableClient, query: str, params: dict[str, Any], top: int, convert: Callable[[Any], T]
) -> list[T]:
    """The first `top + 1` rows a query answers, converted: a page of `top` and whether there are more
    (the caller's list cursor is its last row's key)."""

    async def read() -> list[T]:
        found: list[T] = []
        async for row in table.query_entities(query, parameters=params, results_per_page=top + 1):
            found.append(convert(row))
            if len(found) > top:
                break
        return found

    return await guarded(read)


# Reading a domain's cached rows: point reads or range queries (one partition per domain). A point read
# answers one UPN per round trip (16 at once) and reads nothing else. A range query answers every wanted UPN
# among up to 1,000 rows per round trip, but its pages come one after another and it also reads the cached
# UPNs between the wanted ones. It pays when a round trip brings at least ~50 wanted UPNs: fewer than 50 UPNs
# of a domain are point reads, and a range whose full page held fewer than 50 wanted ones (a few users of a
# big tenant) stops there and point-reads the rest.
_WANTED_PER_PAGE = 50
_PAGE_ROWS = 1000  # Table storage's largest page; also how many wanted UPNs one range query covers


def _range_read_pays(wanted: int) -> bool:
    """Whether `wanted` UPNs (of one domain, or among one page of its rows) are worth a range query."""
    return wanted >= _WANTED_PER_PAGE


class UserCache:
    """UPN -> object id, with expiry. Partitioned by domain so a whole tenant's cache is one range."""

    SUFFIX = "UserCache"
    _COLUMNS = ("PartitionKey", "RowKey", "UserId", "ExpiresAt")

    def __init__(self, store: TableStore, concurrency: int = 16) -> None:
        self._store = store
        self._limit = asyncio.Semaphore(concurrency)

    @staticmethod
    def _keys(upn: str) -> tuple[str, str]:
        return encode_key(upn.rsplit("@", 1)[1]), encode_key(upn)

    async def get_many(self, upns: Iterable[str], now: datetime) -> dict[str, str | None]:
        """The cached, unexpired object ids of these (normalized) UPNs, None for a UPN cached as unknown
        (`put_misses`): per domain, point reads for a few and range queries for many (`_range_read_pays`),
        all side by side."""
        table = await self._store.table(self.SUFFIX)
        wanted: dict[str, dict[str, str]] = {}  # PartitionKey -> RowKey -> UPN
        for upn in set(upns):
            pk, rk = self._keys(upn)
            wanted.setdefault(pk, {})[rk] = upn
        partitions = await asyncio.gather(
            *(self._read_partition(table, pk, sorted(row_keys)) for pk, row_keys in wanted.items())
        )
        found: dict[str, str | None] = {}
        for rows in partitions:
            for row in rows:
                upn = wanted.get(row["PartitionKey"], {}).get(row["RowKey"])
                if upn is not None and row["ExpiresAt"] > now:
                    found[upn] = row["UserId"] or None  # "" marks a UPN Graph did not know
        return found

    async def _read_partition(
        self, table: TableClient, pk: str, row_keys: list[str]
    ) -> list[Mapping[str, Any]]:
        """The cached rows among these sorted RowKeys of one partition (and, from a range, rows between)."""
        rows: list[Mapping[str, Any]] = []
        rest = row_keys
        if _range_read_pays(len(row_keys)):
            spans = [row_keys[i : i + _PAGE_ROWS] for i in range(0, len(row_keys), _PAGE_ROWS)]
            read = await asyncio.gather(*(self._read_range(table, pk, span) for span in spans))
            rows = [row for got, _ in read for row in got]
            rest = [key for _, left in read for key in left]
        points = await asyncio.gather(*(self._read_point(table, pk, rk) for rk in rest))
        return rows + [row for row in points if row is not None]

    async def _read_point(self, table: TableClient, pk: str, rk: str) -> Mapping[str, Any] | None:
        async with self._limit:
            try:
                return await guarded(lambda: table.get_entity(pk, rk, select=list(self._COLUMNS)))
            except ResourceNotFoundError:
                return None

    async def _read_range(
        self, table: TableClient, pk: str, row_keys: list[str]
    ) -> tuple[list[Mapping[str, Any]], list[str]]:
        """The rows from the first to the last of these sorted RowKeys, page by page; and the RowKeys left
        to point-read when a full page held too few wanted ones for paging to pay."""

        async def pages() -> tuple[list[Mapping[str, Any]], list[str]]:
            query = table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey le @last",
                parameters={"pk": pk, "first": row_keys[0], "last": row_keys[-1]},
                select=list(self._COLUMNS),
                results_per_page=_PAGE_ROWS,
            )
            rows: list[Mapping[str, Any]] = []
            passed = 0  # wanted RowKeys up to the last row read (keys sort the same here and in storage)
            async for page in query.by_page():
                page_rows = [row async for row in page]
                if not page_rows:
                    continue
                rows += page_rows
                in_page = bisect_right(row_keys, page_rows[-1]["RowKey"]) - passed
                passed += in_page
                full = len(page_rows) >= _PAGE_ROWS
                if full and passed < len(row_keys) and not _range_read_pays(in_page):
                    return rows, row_keys[passed:]
            return rows, []

        async with self._limit:
            return await guarded(pages)

    async def put_many(self, user_ids: Mapping[str, str], now: datetime, ttl: timedelta) -> None:
        """Cache these UPN -> object id mappings: upserts in transactions of up to 100 per partition (Table
        storage's limit), sent side by side."""
        table = await self._store.table(self.SUFFIX)
        upserts = []
        for upn, user_id in user_ids.items():
            pk, rk = self._keys(upn)
            upserts.append(
                ("upsert", {"PartitionKey": pk, "RowKey": rk, "UserId": user_id, "ExpiresAt": now + ttl})
            )
        await submit_batches(table, upserts)

    async def put(self, upn: str, user_id: str, now: datetime, ttl: timedelta) -> None:
        await self.put_many({upn: user_id}, now, ttl)

    async def put_misses(self, upns: Iterable[str], now: datetime, ttl: timedelta) -> None:
        """Remember for `ttl` that Graph knows no user with these UPNs (an empty UserId)."""
        await self.put_many(dict.fromkeys(upns, ""), now, ttl)
