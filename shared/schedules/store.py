"""Schedules in Table storage: one row per schedule (point read by id, written with ETags), an index row
per user for listing, and idempotency keys. The due index is the shared Timeline (kind "schedule")."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.holds.rules import Failure
from shared.platform.keys import encode_key
from shared.platform.rows import RowMapper, utc
from shared.platform.tables import (
    Conflict,
    TableStore,
    delete_where,
    first_rows,
    guarded,
    replace_entity,
    submit_batches,
)

SCHEDULE_ROW = "schedule"
Status = Literal["scheduled", "active", "completed", "cancelled", "failed"]
LIVE: frozenset[Status] = frozenset({"scheduled", "active"})  # what counts against MAX_SCHEDULES_PER_USER


@dataclass(frozen=True)
class EngineState:
    """The apply_schedules timer's bookkeeping on a schedule (shared/schedules/timer.py says how each is
    used). Stored as the X* columns of the schedule's row; nothing outside this module names them."""

    claimed_until: datetime | None = None  # a worker claimed the schedule for a step until then
    running_index: int | None = None  # the occurrence this schedule applied and has not yet undone
    partial_index: int | None = None  # an occurrence whose start is under way, or failed half-way
    resume: str | None = None  # where the series' evaluation resumes: a recurrence mark, as text

    def __post_init__(self) -> None:
        if self.claimed_until is not None and self.claimed_until.tzinfo is None:
            raise ValueError("claimed_until must be aware")
        for index in (self.running_index, self.partial_index):
            if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
                raise ValueError(f"an occurrence index is a non-negative int, not {index!r}")

    def idle(self) -> EngineState:
        """No step under way and nothing applied: only where evaluation resumes is kept."""
        return EngineState(resume=self.resume)


@dataclass(frozen=True)
class ScheduleRecord:
    """A schedule as stored: the caller's definition as given, and where the engine is in it."""

    id: str
    user: str
    user_id: str
    start: str
    end: str
    time_zone: str | None
    recurrence: str | None
    status_message: str | None
    presence: tuple[str, str] | None
    preferred_presence: tuple[str, str] | None
    restore_previous: bool
    status: Status
    created_at: datetime
    created_by: str
    updated_at: datetime
    last_done: tuple[int, str] | None = None  # (occurrence index, "start" | "end" | "skip")
    attempts: int = 0
    last_error: Failure | None = None
    engine: EngineState = field(default_factory=lambda: EngineState())  # the timer's own bookkeeping
    version: int = 0  # PATCHes so far: each version's occurrences own their own parts of the hold
    skip_when_out_of_office: bool = False  # an occurrence whose user is out of office at its start is skipped


class ScheduleStore:
    SUFFIX = "Schedules"
    INDEX = "ScheduleIndex"

    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def get(self, schedule_id: str) -> tuple[ScheduleRecord | None, str | None]:
        table = await self._store.table(self.SUFFIX)
        try:
            entity = await guarded(lambda: table.get_entity(schedule_id, SCHEDULE_ROW))
        except ResourceNotFoundError:
            return None, None
        return record_from_entity(entity), entity.metadata["etag"]

    async def create(self, record: ScheduleRecord) -> str:
        """The index row first: a crash in between leaves an index row pointing nowhere (skipped when
        listing), never a schedule its user cannot list."""
        index = await self._store.table(self.INDEX)
        await guarded(lambda: index.upsert_entity(_index_entity(record)))
        table = await self._store.table(self.SUFFIX)
        try:
            result = await guarded(lambda: table.create_entity(record_to_entity(record)))
        except ResourceExistsError:
            raise Conflict(record.id) from None
        return str(result["etag"])

    async def replace(self, record: ScheduleRecord, etag: str) -> str:
        table = await self._store.table(self.SUFFIX)
        return await replace_entity(table, record_to_entity(record), etag)

    async def mark_running(self, record: ScheduleRecord, running: bool) -> None:
        """Flag the schedule in its user's index as (perhaps) running, so `running_for_user` reads only
        those. Set before a start is carried out, cleared after its end is recorded: a stale flag can
        only say "running" for one that is not (checked by the reader), never miss one that is."""
        index = await self._store.table(self.INDEX)
        entity = {**_index_entity(record), "Running": running}
        await guarded(lambda: index.upsert_entity(entity, mode=UpdateMode.MERGE))

    async def running_for_user(self, user_id: str) -> list[ScheduleRecord]:
        """The user's schedules flagged running (see `mark_running`): one query and a point read each."""
        ids = await self._indexed(user_id, running_only=True)
        found = await asyncio.gather(*(self.get(i) for i in ids))
        return [record for record, _ in found if record is not None and record.user_id == user_id]

    async def _indexed(self, user_id: str, *, running_only: bool = False) -> list[str]:
        """The ids in the user's index (only those flagged running): one query."""
        index = await self._store.table(self.INDEX)
        query = "PartitionKey eq @pk" + (" and Running eq true" if running_only else "")
        params = {"pk": encode_key(user_id)}

        async def ids() -> list[str]:
            return [
                row["RowKey"]
                async for row in index.query_entities(query, parameters=params, select=["RowKey"])
            ]

        return await guarded(ids)

    async def purge_finished(self, before: datetime) -> int:
        """Drop schedules that finished (completed, cancelled, failed) before `before`, index rows first so
        a crash in between leaves a row that the next purge finds again, never an index entry without one."""
        table = await self._store.table(self.SUFFIX)
        query = "UpdatedAt lt @at and (Status eq 'completed' or Status eq 'cancelled' or Status eq 'failed')"

        async def finished() -> list[tuple[str, str, str]]:
            rows = table.query_entities(
                query, parameters={"at": before}, select=["PartitionKey", "RowKey", "UserId"]
            )
            return [(row["PartitionKey"], row["RowKey"], row["UserId"]) async for row in rows]

        found = await guarded(finished)
        index = await self._store.table(self.INDEX)
        await submit_batches(
            index, [("delete", {"PartitionKey": encode_key(user), "RowKey": pk}) for pk, _, user in found]
        )
        await submit_batches(table, [("delete", {"PartitionKey": pk, "RowKey": rk}) for pk, rk, _ in found])
        return len(found)

    async def move_index(self, record: ScheduleRecord, old_user_id: str) -> None:
        index = await self._store.table(self.INDEX)
        await guarded(lambda: index.upsert_entity(_index_entity(record)))
        with contextlib.suppress(ResourceNotFoundError):
            await guarded(lambda: index.delete_entity(encode_key(old_user_id), record.id))

    async def list(
        self, *, user_id: str | None, status: Status | None, top: int, after: str | None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """A page of schedules ordered by id, from after `after`; and the last id if there may be more."""
        if user_id is not None:
            records = await self._list_for_user(user_id, status, top, after)
        else:
            records = await self._list_all(status, top, after)
        more = len(records) > top
        page = records[:top]
        return page, (page[-1].id if more and page else None)

    async def _list_for_user(
        self, user_id: str, status: Status | None, top: int, after: str | None
    ) -> list[ScheduleRecord]:
        index = await self._store.table(self.INDEX)
        query, params = (
            "PartitionKey eq @pk and RowKey gt @after",
            {"pk": encode_key(user_id), "after": after or ""},
        )
        found: list[ScheduleRecord] = []

        async def ids_page() -> list[str]:
            ids: list[str] = []
            async for row in index.query_entities(query, parameters=params, select=["RowKey"]):
                ids.append(row["RowKey"])
            return ids

        ids = await guarded(ids_page)
        for start in range(0, len(ids), 50):
            chunk = await asyncio.gather(*(self.get(i) for i in ids[start : start + 50]))
            for record, _ in chunk:
                if (
                    record is not None
                    and record.user_id == user_id
                    and (status is None or record.status == status)
                ):
                    found.append(record)
            if len(found) > top:
                break
        return found[: top + 1]

    async def count_live(self, user_id: str) -> int:
        """How many of the user's schedules are still to run or running (scheduled or active): one query
        of the user's index and a point read each (the per-user cap's reconciliation, seldom)."""
        found = await self._indexed(user_id)
        live = 0
        for start in range(0, len(found), 50):
            for record, _ in await asyncio.gather(*(self.get(i) for i in found[start : start + 50])):
                if record is not None and record.user_id == user_id and record.status in LIVE:
                    live += 1
        return live

    async def _list_all(self, status: Status | None, top: int, after: str | None) -> list[ScheduleRecord]:
        table = await self._store.table(self.SUFFIX)
        query = "PartitionKey gt @after and RowKey eq @row"
        params: dict[str, Any] = {"after": after or "", "row": SCHEDULE_ROW}
        if status is not None:
            query += " and Status eq @status"
            params["status"] = status

        return await first_rows(table, query, params, top, record_from_entity)


@dataclass(frozen=True)
class IdempotentCreate:
    schedule_id: str
    body_hash: str
    created_at: datetime


class IdempotencyStore:
    """Idempotency-Key → the schedule that key created and a hash of the body it came with."""

    SUFFIX = "Idempotency"

    def __init__(self, store: TableStore) -> None:
        self._store = store

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    async def get(self, key: str) -> tuple[IdempotentCreate | None, str | None]:
        table = await self._store.table(self.SUFFIX)
        try:
            entity = await guarded(lambda: table.get_entity(self._key(key), "create"))
        except ResourceNotFoundError:
            return None, None
        found = IdempotentCreate(entity["ScheduleId"], entity["BodyHash"], utc(entity["CreatedAt"]))
        return found, entity.metadata["etag"]

    async def purge(self, created_before: datetime) -> int:
        """Drop the keys recorded before `created_before` (past their time, they no longer dedupe)."""
        return await delete_where(self._store, self.SUFFIX, "CreatedAt lt @at", {"at": created_before})

    async def claim(self, key: str, claim: IdempotentCreate, etag: str | None) -> None:
        """Record the key (replacing an expired record at `etag`); Conflict when another request won."""
        table = await self._store.table(self.SUFFIX)
        entity = {
            "PartitionKey": self._key(key),
            "RowKey": "create",
            "ScheduleId": claim.schedule_id,
            "BodyHash": claim.body_hash,
            "CreatedAt": claim.created_at,
        }
        try:
            if etag is None:
                await guarded(lambda: table.create_entity(entity))
            else:
                await guarded(
                    lambda: table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
        except (ResourceExistsError, ResourceModifiedError):
            raise Conflict(key) from None


def _index_entity(record: ScheduleRecord) -> dict[str, Any]:
    return {"PartitionKey": encode_key(record.user_id), "RowKey": record.id}


# Flat columns: a pair as two (PresenceAvailability, PresenceActivity), the engine's state behind "X".
_ROWS = RowMapper(
    ScheduleRecord,
    columns={"id": "PartitionKey", "preferred_presence": "Preferred"},
    tuples={
        "presence": ("Availability", "Activity"),
        "preferred_presence": ("Availability", "Activity"),
        "last_done": ("Index", "Kind"),
    },
    parts={"engine": RowMapper(EngineState, prefix="X")},
)


def record_to_entity(r: ScheduleRecord) -> dict[str, Any]:
    return _ROWS.to_row(r) | {"RowKey": SCHEDULE_ROW}


def record_from_entity(e: Mapping[str, Any]) -> ScheduleRecord:
    return _ROWS.from_row(e)
