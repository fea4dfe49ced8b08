"""The user cache in Table storage: UPN -> object id with an expiry, partitioned by domain so a whole
tenant's cache is one range; a UPN Graph did not know is cached too, briefly (an empty object id)."""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient

from shared.platform.keys import encode_key
from shared.platform.tables import TableStore, delete_where, guarded, submit_batches

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

    async def purge(self, now: datetime) -> int:
        """Drop the expired entries."""
        return await delete_where(self._store, self.SUFFIX, "ExpiresAt lt @at", {"at": now})
