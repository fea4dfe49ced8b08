"""Table storage (azure-data-tables, async): the client, batches and the one error mapping (a 503
`storageUnavailable`). Tables carry TABLE_PREFIX so tests and side-by-side deployments stay apart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
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


async def delete_where(store: TableStore, suffix: str, query: str, params: dict[str, Any]) -> int:
    """Delete every row of a table a filter selects (one scan, deletes in transactions of up to 100 per
    partition); returns how many. What to select is the owning store's business."""
    table = await store.table(suffix)

    async def keys() -> list[tuple[str, str]]:
        rows = table.query_entities(query, parameters=params, select=["PartitionKey", "RowKey"])
        return [(row["PartitionKey"], row["RowKey"]) async for row in rows]

    found = await guarded(keys)
    await submit_batches(table, [("delete", {"PartitionKey": pk, "RowKey": rk}) for pk, rk in found])
    return len(found)
