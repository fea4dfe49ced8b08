"""Presence watches in Table storage: a row per watch (`Watches`), and per watch a partition of
members' baselines and its outbox (`WatchState`)."""

# - `Watches`: one row per watch (PartitionKey = watch id, RowKey "watch"), written with ETags; it carries
#   the delivery state (pending flag, failures, back-off, claim lease). A row "poll"/"state" remembers when
#   the poller last read presence.
# - `WatchState`, one partition per watch (PartitionKey = watch id):
#   - a member row per watched user (RowKey = object id) with what the last poll saw of that user, so each
#     watch compares against its own baseline;
#   - the outbox (RowKey = "~" + the change's id, after every object id). A change's outbox row and its
#     member's new baseline are written in one transaction (the same partition), under the ETag the
#     member was read with: a crash leaves both or neither, and two pollers cannot both record a change.
#     Sent rows stay a day, so a change can never be queued again under the same id.
#   Every row carries `WrittenAt`, the service's own clock at its last write: the orphan sweep ages rows
#   by it, never by the storage server's `Timestamp` (another clock, and not the one tests can move).

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from shared.holds.rules import Failure
from shared.platform.keys import decode_key, encode_key
from shared.platform.rows import Codec, RowMapper, cell, utc
from shared.platform.tables import (
    TRANSACTION_LIMIT,
    Conflict,
    TableStore,
    delete_where,
    first_rows,
    guarded,
    replace_entity,
    submit_batches,
)
from shared.watches.rules import Filter, Seen, told_before

WATCH_ROW = "watch"
ORPHAN_AGE = timedelta(hours=1)
OUTBOX = "~"  # the outbox's RowKeys start with it: after every object id (hex and dashes)
_POLL_KEYS = ("poll", "state")  # a partition no watch id can have (ids are hex)
_CONCURRENCY = 16

Status = Literal["active", "disabled"]


@dataclass(frozen=True)
class WatchRecord:
    id: str
    group: str | None
    callback_url: str
    filter: Filter
    include_own_changes: bool
    secret: str
    status: Status
    created_at: datetime
    created_by: str
    member_count: int
    delivered: int = 0
    has_pending: bool = False  # the outbox may hold undelivered changes
    failures: int = 0  # failed deliveries in a row
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    last_error: Failure | None = None
    claimed_until: datetime | None = None  # a worker is delivering until then
    disabled_at: datetime | None = None
    members_refreshed_at: datetime | None = None


@dataclass(frozen=True)
class Member:
    watch_id: str
    user_id: str
    user: str  # as the watch names the user: the caller's words, or a group member's UPN
    seen: Seen | None = None  # None until the first poll after it was added: that read is the baseline
    seen_at: datetime | None = None
    etag: str = field(default="", compare=False)


@dataclass(frozen=True)
class Delivery:
    watch_id: str
    key: str
    body: bytes
    changed_at: datetime
    status: Literal["pending", "sent", "dropped"] = "pending"
    etag: str = field(default="", compare=False)


class WatchStore:
    WATCHES = "Watches"
    STATE = "WatchState"

    def __init__(self, store: TableStore) -> None:
        self._store = store
        self._limit = asyncio.Semaphore(_CONCURRENCY)

    # --- watches ---------------------------------------------------------------------------------------

    async def create(self, record: WatchRecord, members: Mapping[str, str]) -> None:
        """Members first: a crash in between leaves member rows no watch points at (never polled, and
        swept with the watch id), never a watch without its members."""
        await self.set_members(record.id, members, keep=[], at=record.created_at)
        table = await self._store.table(self.WATCHES)
        try:
            await guarded(lambda: table.create_entity(watch_to_entity(record)))
        except ResourceExistsError:
            raise Conflict(record.id) from None

    async def get(self, watch_id: str) -> tuple[WatchRecord | None, str | None]:
        table = await self._store.table(self.WATCHES)
        try:
            entity = await guarded(lambda: table.get_entity(watch_id, WATCH_ROW))
        except ResourceNotFoundError:
            return None, None
        return watch_from_entity(entity), entity.metadata["etag"]

    async def replace(self, record: WatchRecord, etag: str) -> str:
        table = await self._store.table(self.WATCHES)
        return await replace_entity(table, watch_to_entity(record), etag)

    async def flag_pending(self, watch_id: str) -> None:
        """Say the outbox has something for this watch (a merge: it leaves the delivery state alone)."""
        table = await self._store.table(self.WATCHES)
        entity = {"PartitionKey": watch_id, "RowKey": WATCH_ROW, "HasPending": True}
        with contextlib.suppress(ResourceNotFoundError):  # deleted meanwhile: nothing to deliver to
            await guarded(lambda: table.update_entity(entity, mode=UpdateMode.MERGE))  # If-Match: *

    async def all(self, *, status: Status | None = None) -> list[tuple[WatchRecord, str]]:
        table = await self._store.table(self.WATCHES)
        query, params = "RowKey eq @row", {"row": WATCH_ROW}
        if status is not None:
            query, params = f"{query} and Status eq @status", {**params, "status": status}

        async def read() -> list[tuple[WatchRecord, str]]:
            return [
                (watch_from_entity(row), row.metadata["etag"])
                async for row in table.query_entities(query, parameters=params)
            ]

        return await guarded(read)

    async def page(
        self, *, created_by: str | None, top: int, after: str | None
    ) -> tuple[list[WatchRecord], str | None]:
        """Watches ordered by id from after `after` (optionally one caller's); the last id if more."""
        table = await self._store.table(self.WATCHES)
        query = "PartitionKey gt @after and RowKey eq @row"
        params: dict[str, Any] = {"after": after or "", "row": WATCH_ROW}
        if created_by is not None:
            query += " and CreatedBy eq @by"
            params["by"] = created_by

        found = await first_rows(table, query, params, top, watch_from_entity)
        page = found[:top]
        return page, (page[-1].id if len(found) > top and page else None)

    async def count_by(self, created_by: str) -> int:
        table = await self._store.table(self.WATCHES)
        query, params = "RowKey eq @row and CreatedBy eq @by", {"row": WATCH_ROW, "by": created_by}

        async def count() -> int:
            return len([r async for r in table.query_entities(query, parameters=params, select=["RowKey"])])

        return await guarded(count)

    async def purge_settled(self, before: datetime) -> int:
        """Drop outbox rows delivered (or dropped) before `before`: kept that long so that a late poller
        cannot make the same notification again."""
        query = "RowKey gt @outbox and Status ne 'pending' and SettledAt lt @at"
        return await delete_where(self._store, self.STATE, query, {"outbox": OUTBOX, "at": before})

    async def sweep(self, disabled_before: datetime, now: datetime) -> int:
        """purge_history's part: watches disabled before `disabled_before` go (they were kept for their
        owners to see), a disabled watch's undelivered changes are dropped (see `drop_pending`), and the
        rows of watches that no longer exist (a tick racing a DELETE can add some) are deleted, once they
        an hour old by the service's clock (a watch being created writes its members before its own row).
        Returns the watches swept."""
        watches = {w.id: w for w, _ in await self.all()}
        gone = [
            w.id for w in watches.values() if w.disabled_at is not None and w.disabled_at < disabled_before
        ]
        for watch_id in gone:
            await self.delete(watch_id)
        for watch in watches.values():
            if watch.status == "disabled" and watch.id not in gone:
                await self.drop_pending(watch.id, now)
        table = await self._store.table(self.STATE)

        async def newest_rows() -> dict[str, datetime]:
            newest: dict[str, datetime] = {}
            async for row in table.list_entities(select=["PartitionKey", "WrittenAt", "Timestamp"]):
                # Rows from before WrittenAt existed fall back to the storage server's own timestamp.
                written = row.get("WrittenAt") or row.metadata["timestamp"]
                newest[row["PartitionKey"]] = max(written, newest.get(row["PartitionKey"], written))
            return newest

        settled = now - ORPHAN_AGE
        orphans = [
            watch_id
            for watch_id, written in (await guarded(newest_rows)).items()
            if watch_id not in watches and written < settled and (await self.get(watch_id))[0] is None
        ]
        for watch_id in orphans:
            await self._delete_rows(table, watch_id, await self._row_keys(table, watch_id))
        return len(gone) + len(orphans)

    async def drop_pending(self, watch_id: str, now: datetime) -> None:
        """Drop a disabled watch's undelivered changes. Each member's baseline first goes back to what the
        receiver was last told (rules.told_before), so once the watch is on again its next
        notification for that user starts from there: nothing the receiver missed is papered over."""
        pending = await self.pending(watch_id)
        if not pending:
            return
        table = await self._store.table(self.STATE)
        for user_id, seen in told_before(d.body for d in pending).items():
            entity = {
                "PartitionKey": watch_id,
                "RowKey": encode_key(user_id),
                "Availability": seen.availability,
                "Activity": seen.activity,
                "Sequence": "",
                "WrittenAt": now,
            }
            with contextlib.suppress(ResourceNotFoundError):  # no longer a member
                await guarded(lambda e=entity: table.update_entity(e, mode=UpdateMode.MERGE))  # type: ignore[misc]
        for delivery in pending:
            await self.settle(delivery, "dropped", now)

    async def delete(self, watch_id: str) -> bool:
        """The watch row first (it stops being polled and delivered), then its members and outbox."""
        table = await self._store.table(self.WATCHES)
        try:
            await guarded(lambda: table.delete_entity(watch_id, WATCH_ROW))
            existed = True
        except ResourceNotFoundError:
            existed = False
        state = await self._store.table(self.STATE)
        await self._delete_rows(state, watch_id, await self._row_keys(state, watch_id))
        return existed

    # --- members ---------------------------------------------------------------------------------------

    async def members(self, watch_id: str) -> list[Member]:
        table = await self._store.table(self.STATE)
        query, params = "PartitionKey eq @pk and RowKey lt @outbox", {"pk": watch_id, "outbox": OUTBOX}

        async def read() -> list[Member]:
            return [_member_from_entity(row) async for row in table.query_entities(query, parameters=params)]

        async with self._limit:
            return await guarded(read)

    async def set_members(
        self, watch_id: str, wanted: Mapping[str, str], keep: Iterable[Member], at: datetime
    ) -> None:
        """Make the watch's members `wanted` (object id -> name): new ones added without a baseline,
        those no longer wanted removed, those kept keep what was seen of them."""
        table = await self._store.table(self.STATE)
        kept = {m.user_id for m in keep}
        added = [
            ("upsert", {"PartitionKey": watch_id, "RowKey": encode_key(i), "User": name, "WrittenAt": at})
            for i, name in wanted.items()
            if i not in kept
        ]
        removed = [
            ("delete", {"PartitionKey": watch_id, "RowKey": encode_key(i)}) for i in kept - set(wanted)
        ]
        await submit_batches(table, [*added, *removed])

    async def record(
        self, watch_id: str, seen: list[tuple[Member, Seen, Delivery | None]], at: datetime
    ) -> None:
        """Move members' baselines on, each with the change to tell (if any) put in the outbox in the same
        transaction, only where the member row is as it was read: 50 changes a transaction (two rows
        each, Table storage's limit is 100), and a transaction refused for one change redone change by
        change (one whose member somebody else moved on is theirs, and dropped here)."""
        table = await self._store.table(self.STATE)

        def operations(member: Member, current: Seen, delivery: Delivery | None) -> list[Any]:
            conditional = {
                "mode": UpdateMode.MERGE,
                "etag": member.etag,
                "match_condition": MatchConditions.IfNotModified,
            }
            moved = [("update", _seen_entity(member, current, at), conditional)]
            return moved + ([("create", _delivery_entity(delivery, at))] if delivery is not None else [])

        async def attempt(ops: list[Any]) -> bool:
            async def submit() -> bool:
                try:
                    await table.submit_transaction(ops)
                except TableTransactionError:
                    return False
                return True

            async with self._limit:
                return await guarded(submit)

        async def chunk(items: list[tuple[Member, Seen, Delivery | None]]) -> None:
            if not await attempt([op for item in items for op in operations(*item)]):
                for item in items:
                    await attempt(operations(*item))

        step = TRANSACTION_LIMIT // 2
        await asyncio.gather(*(chunk(seen[i : i + step]) for i in range(0, len(seen), step)))

    # --- the outbox ------------------------------------------------------------------------------------

    async def pending(self, watch_id: str) -> list[Delivery]:
        """The watch's undelivered changes, oldest first."""
        table = await self._store.table(self.STATE)
        query = "PartitionKey eq @pk and RowKey gt @outbox and Status eq 'pending'"
        params = {"pk": watch_id, "outbox": OUTBOX}

        async def read() -> list[Delivery]:
            return [
                _delivery_from_entity(row) async for row in table.query_entities(query, parameters=params)
            ]

        found = await guarded(read)
        return sorted(found, key=lambda d: (d.changed_at, d.key))

    async def settle(self, delivery: Delivery, status: Literal["sent", "dropped"], at: datetime) -> None:
        table = await self._store.table(self.STATE)
        entity = {
            "PartitionKey": delivery.watch_id,
            "RowKey": OUTBOX + encode_key(delivery.key),
            "Status": status,
            "SettledAt": at,
            "WrittenAt": at,
        }
        with contextlib.suppress(ResourceNotFoundError):  # the watch was deleted meanwhile
            await guarded(lambda: table.update_entity(entity, mode=UpdateMode.MERGE))

    # --- the poller's own state ------------------------------------------------------------------------

    async def last_read(self) -> datetime | None:
        table = await self._store.table(self.WATCHES)
        try:
            entity = await guarded(lambda: table.get_entity(*_POLL_KEYS))
        except ResourceNotFoundError:
            return None
        return entity.get("ReadAt")

    async def set_last_read(self, at: datetime) -> None:
        table = await self._store.table(self.WATCHES)
        entity = {"PartitionKey": _POLL_KEYS[0], "RowKey": _POLL_KEYS[1], "ReadAt": at}
        await guarded(lambda: table.upsert_entity(entity))

    # --- helpers ---------------------------------------------------------------------------------------

    async def _row_keys(self, table: TableClient, partition: str) -> list[str]:
        async def read() -> list[str]:
            return [
                row["RowKey"]
                async for row in table.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": partition}, select=["RowKey"]
                )
            ]

        return await guarded(read)

    async def _delete_rows(self, table: TableClient, partition: str, row_keys: list[str]) -> None:
        await submit_batches(
            table, [("delete", {"PartitionKey": partition, "RowKey": key}) for key in row_keys]
        )


def _seen_entity(member: Member, seen: Seen, seen_at: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": member.watch_id,
        "RowKey": encode_key(member.user_id),
        "Availability": seen.availability,
        "Activity": seen.activity,
        "Sequence": seen.sequence_number or "",
        "SeenAt": seen_at,
        "WrittenAt": seen_at,
    }


def _member_from_entity(row: Any) -> Member:
    seen = None
    if row.get("SeenAt") is not None:
        seen = Seen(row["Availability"], row["Activity"], row.get("Sequence") or None)
    return Member(
        watch_id=row["PartitionKey"],
        user_id=decode_key(row["RowKey"]),
        user=row.get("User") or row["RowKey"],
        seen=seen,
        seen_at=row.get("SeenAt"),
        etag=row.metadata["etag"],
    )


# --- records as rows ---------------------------------------------------------------------------------

_WATCH_ROWS = RowMapper(
    WatchRecord,
    columns={"id": "PartitionKey"},
    codecs={
        "group": cell("GroupId"),
        "filter": Codec(
            lambda kept: {
                "Filter": json.dumps(
                    {"availability": sorted(kept.availability), "activity": sorted(kept.activity)}
                )
            },
            lambda row: _filter(json.loads(row.get("Filter") or "{}")),
        ),
        # The error as JSON beside its time (so one column holds what the receiver said).
        "last_error": Codec(
            lambda e: {"LastError": json.dumps({"code": e.code, "message": e.message}), "LastErrorAt": e.at},
            lambda row: (
                _failure(json.loads(row["LastError"]), row["LastErrorAt"]) if row.get("LastError") else None
            ),
        ),
    },
)
_DELIVERY_ROWS = RowMapper(
    Delivery,
    columns={"watch_id": "PartitionKey"},
    codecs={
        "key": Codec(
            lambda key: {"RowKey": OUTBOX + encode_key(key)},
            lambda row: decode_key(row["RowKey"].removeprefix(OUTBOX)),
        ),
        "body": Codec(lambda body: {"Body": body.decode()}, lambda row: str(row["Body"]).encode()),
    },
    skip=frozenset({"etag"}),
)


def _filter(kept: dict[str, Any]) -> Filter:
    return Filter(frozenset(kept.get("availability", ())), frozenset(kept.get("activity", ())))


def _failure(said: dict[str, str], at: Any) -> Failure:
    return Failure(said["code"], said["message"], utc(at))


def watch_to_entity(record: WatchRecord) -> dict[str, Any]:
    return _WATCH_ROWS.to_row(record) | {"RowKey": WATCH_ROW}


def watch_from_entity(row: Mapping[str, Any]) -> WatchRecord:
    return _WATCH_ROWS.from_row(row)


def _delivery_entity(delivery: Delivery, written_at: datetime) -> dict[str, Any]:
    return _DELIVERY_ROWS.to_row(delivery) | {"WrittenAt": written_at}


def _delivery_from_entity(row: Any) -> Delivery:
    return _DELIVERY_ROWS.from_row(row, etag=row.metadata["etag"])
