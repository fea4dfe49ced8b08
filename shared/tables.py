"""Table storage (azure-data-tables, async): the only module that imports it. Tables carry TABLE_PREFIX so
tests and side-by-side deployments stay apart; storage failures become a 503 `storageUnavailable`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.config import Settings
from shared.errors import storage_unavailable
from shared.identity import storage_credential
from shared.keys import encode_key

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


async def guarded(call: Callable[[], Awaitable[T]]) -> T:
    """Run a storage call; an outage or refusal is the service's 503, never a 500."""
    try:
        return await call()
    except ResourceNotFoundError:
        raise
    except AzureError as exc:
        log.warning("Table storage failed: %s", type(exc).__name__)
        raise storage_unavailable(type(exc).__name__) from None


class UserCache:
    """UPN -> object id, with expiry. Partitioned by domain so a whole tenant's cache is one range."""

    SUFFIX = "UserCache"

    def __init__(self, store: TableStore, concurrency: int = 16) -> None:
        self._store = store
        self._limit = asyncio.Semaphore(concurrency)

    @staticmethod
    def _keys(upn: str) -> tuple[str, str]:
        return encode_key(upn.rsplit("@", 1)[1]), encode_key(upn)

    async def get_many(self, upns: Iterable[str], now: datetime) -> dict[str, str]:
        """The cached, unexpired object ids of these (normalized) UPNs."""
        table = await self._store.table(self.SUFFIX)

        async def one(upn: str) -> tuple[str, str | None]:
            pk, rk = self._keys(upn)
            async with self._limit:
                try:
                    entity = await guarded(lambda: table.get_entity(pk, rk))
                except ResourceNotFoundError:
                    return upn, None
            return upn, entity["UserId"] if entity["ExpiresAt"] > now else None

        found = await asyncio.gather(*(one(upn) for upn in set(upns)))
        return {upn: user_id for upn, user_id in found if user_id}

    async def put(self, upn: str, user_id: str, now: datetime, ttl: timedelta) -> None:
        table = await self._store.table(self.SUFFIX)
        pk, rk = self._keys(upn)
        entity = {"PartitionKey": pk, "RowKey": rk, "UserId": user_id, "ExpiresAt": now + ttl}
        async with self._limit:
            await guarded(lambda: table.upsert_entity(entity))
