"""The due index: what is due when, one set of shard partitions per kind of work, so "what is due now"
is a range read on RowKey whatever the number of stored rows, and each timer reads only its own kind."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.platform.keys import encode_key
from shared.platform.tables import TableStore, guarded

TIMELINE_SHARDS = 4  # partitions per kind the due index is spread over (parallel reads, no hot partition)
_STAMP = "%Y%m%dT%H%M%SZ"
# Before 0.7 every kind shared the partitions due0..3, so a backlog of one kind hid the others from a tick
# that reads the oldest entries first. They are still read (filtered by Kind) so nothing indexed by an
# older deployment is lost; nothing writes there any more.
_LEGACY_PARTITIONS = tuple(f"due{shard}" for shard in range(TIMELINE_SHARDS))


@dataclass(frozen=True)
class DueEntry:
    due: datetime
    kind: str  # "hold" or "schedule"
    ref: str  # the user id for a hold, the schedule id for a schedule
    partition: str
    row: str


def _shard(kind: str, ref: str) -> str:
    return f"{kind}{zlib.crc32(ref.encode()) % TIMELINE_SHARDS}"


def due_keys(due: datetime, kind: str, ref: str) -> tuple[str, str]:
    # Keys hold whole seconds, rounded up: an entry is never read before its moment has come (a tick
    # reads every key up to the second it runs in).
    second = due.astimezone(UTC).replace(microsecond=0)
    if second < due:
        second += timedelta(seconds=1)
    return _shard(kind, ref), f"{second.strftime(_STAMP)}|{kind}|{encode_key(ref)}"


class Timeline:
    """The due index: one set of shard partitions per kind of work, so each timer reads only its own."""

    SUFFIX = "Timeline"

    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def add(self, due: datetime, kind: str, ref: str) -> DueEntry:
        pk, rk = due_keys(due, kind, ref)
        table = await self._store.table(self.SUFFIX)
        await guarded(
            lambda: table.upsert_entity({"PartitionKey": pk, "RowKey": rk, "Kind": kind, "Ref": ref})
        )
        return DueEntry(due, kind, ref, pk, rk)

    async def due(
        self, now: datetime, kind: str, limit: int = 1000, after: dict[str, str] | None = None
    ) -> list[DueEntry]:
        """Entries of `kind` due at or before `now`, oldest first, at most `limit`: one range query per
        shard (and per legacy partition). `after` (partition -> RowKey) continues past entries already
        read, so a tick can page on without seeing again the ones it left due."""
        table = await self._store.table(self.SUFFIX)
        upper = now.astimezone(UTC).strftime(_STAMP) + "|~"
        after = after or {}
        partitions = [(f"{kind}{shard}", False) for shard in range(TIMELINE_SHARDS)]
        partitions += [(legacy, True) for legacy in _LEGACY_PARTITIONS]

        async def read(partition: str, legacy: bool) -> list[DueEntry]:
            query = "PartitionKey eq @pk and RowKey gt @after and RowKey le @upper"
            params = {"pk": partition, "after": after.get(partition, ""), "upper": upper}
            if legacy:
                query += " and Kind eq @kind"
                params["kind"] = kind

            async def rows() -> list[dict[str, Any]]:
                pages = table.query_entities(
                    query, parameters=params, select=["RowKey", "Kind", "Ref"], results_per_page=limit
                )
                found: list[dict[str, Any]] = []
                async for row in pages:
                    found.append(row)
                    if len(found) >= limit:
                        break
                return found

            return [
                DueEntry(_stamp_of(row["RowKey"]), row["Kind"], row["Ref"], partition, row["RowKey"])
                for row in await guarded(rows)
            ]

        found = await asyncio.gather(*(read(p, legacy) for p, legacy in partitions))
        return sorted((e for entries in found for e in entries), key=lambda e: (e.due, e.row))[:limit]

    @staticmethod
    def entry(due: datetime, kind: str, ref: str) -> DueEntry:
        pk, rk = due_keys(due, kind, ref)
        return DueEntry(due, kind, ref, pk, rk)

    async def move(
        self, old: DueEntry, due: datetime | None, kind: str, ref: str, *, written: bool = False
    ) -> None:
        """Index `ref` at `due` (None: nowhere) instead of at `old`. The new entry is written first (unless
        `written` says the caller did), so a crash in between leaves two entries, never none."""
        if due is not None:
            new = self.entry(due, kind, ref)
            if (new.partition, new.row) == (old.partition, old.row):
                return
            if not written:
                await self.add(due, kind, ref)
        await self.remove(old)

    async def remove(self, entry: DueEntry) -> None:
        table = await self._store.table(self.SUFFIX)
        with contextlib.suppress(ResourceNotFoundError):
            await guarded(lambda: table.delete_entity(entry.partition, entry.row))


def _stamp_of(row_key: str) -> datetime:
    return datetime.strptime(row_key.split("|", 1)[0], _STAMP).replace(tzinfo=UTC)
