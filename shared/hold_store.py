"""Holds, their due index (Timeline) and the audit trail in Table storage. Holds are written with ETag
compare-and-swap, so two workers never both act on one; the Timeline makes "what is due now" a range
read on RowKey within a few shard partitions, whatever the number of stored holds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.holds import Failure, GraphSession, Hold, MessageHold, PreferredHold, SessionHold
from shared.keys import encode_key
from shared.tables import Conflict, TableStore, guarded

HOLD_ROW = "hold"
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


class HoldStore:
    SUFFIX = "Holds"

    def __init__(self, store: TableStore, timeline: Timeline) -> None:
        self._store = store
        self.timeline = timeline

    async def get(self, user_id: str) -> tuple[Hold | None, str | None]:
        table = await self._store.table(self.SUFFIX)
        try:
            entity = await guarded(lambda: table.get_entity(encode_key(user_id), HOLD_ROW))
        except ResourceNotFoundError:
            return None, None
        return hold_from_entity(entity), entity.metadata["etag"]

    async def messages(self, user_ids: list[str]) -> dict[str, MessageHold]:
        """The status messages we hold for these users. Few users: point reads; many: one scan of the
        holds that have a message (far fewer rows than users, and one round trip per 1,000)."""
        if len(user_ids) <= 50:
            holds = await asyncio.gather(*(self.get(u) for u in user_ids))
            return {h.user_id: h.message for h, _ in holds if h is not None and h.message is not None}
        wanted = set(user_ids)
        table = await self._store.table(self.SUFFIX)

        async def scan() -> dict[str, MessageHold]:
            rows = table.query_entities(
                "MessageUpdatedAt ge @epoch",
                parameters={"epoch": datetime(1970, 1, 1, tzinfo=UTC)},
                select=[
                    "UserId",
                    "Message",
                    "MessageUntil",
                    "MessageOwner",
                    "MessageUpdatedAt",
                    "MessageInGraph",
                ],
            )
            found: dict[str, MessageHold] = {}
            async for row in rows:
                if row["UserId"] in wanted:
                    found[row["UserId"]] = _message(row)
            return found

        return await guarded(scan)

    async def save(self, hold: Hold, etag: str | None, due: datetime | None) -> str | None:
        """Write `hold` if the row is still at `etag` (None: it must not exist yet), after indexing it as
        due at `due`. An empty hold with nothing due is deleted. Returns the new ETag (None if deleted).
        The due entry is written first: a crash in between leaves an extra entry (read once and
        dropped), never a hold nobody will look at again."""
        if due is not None:
            await self.timeline.add(due, "hold", hold.user_id)
        table = await self._store.table(self.SUFFIX)
        entity = hold_to_entity(hold)
        try:
            if hold.empty and due is None:
                if etag is not None:
                    await guarded(
                        lambda: table.delete_entity(
                            entity["PartitionKey"],
                            HOLD_ROW,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        )
                    )
                return None
            if etag is None:
                result = await guarded(lambda: table.create_entity(entity))
            else:
                result = await guarded(
                    lambda: table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            raise Conflict(hold.user_id) from None
        return str(result["etag"])


class AuditLog:
    """Append-only: one row per change, partitioned by UTC day, newest first within a day."""

    SUFFIX = "Audit"

    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def append(
        self,
        at: datetime,
        caller: str,
        user: str,
        user_id: str,
        operation: str,
        outcome: str,
        graph_request_id: str | None = None,
        schedule_id: str | None = None,
        watch_id: str | None = None,
    ) -> None:
        table = await self._store.table(self.SUFFIX)
        newest_first = 10**13 - int(at.timestamp() * 1000)
        entity = {
            "PartitionKey": at.astimezone(UTC).strftime("%Y%m%d"),
            "RowKey": f"{newest_first:013d}-{uuid.uuid4().hex[:12]}",
            "At": at,
            "Caller": caller,
            "User": user,
            "UserId": user_id,
            "Operation": operation,
            "Outcome": outcome,
            "GraphRequestId": graph_request_id or "",
            "ScheduleId": schedule_id or "",
            "WatchId": watch_id or "",
        }
        await guarded(lambda: table.create_entity(entity))

    async def page(
        self,
        *,
        user_id: str | None,
        since: datetime,
        until: datetime,
        top: int,
        after: tuple[str, str] | None,
    ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """Rows from `until` back to `since`, newest first: one query per day partition, newest day first,
        from after the cursor `after` (partition, row). Returns the page and the next cursor, if any."""
        table = await self._store.table(self.SUFFIX)
        rows: list[dict[str, Any]] = []
        day = until.astimezone(UTC).date()
        while day >= since.astimezone(UTC).date() and len(rows) <= top:
            partition = day.strftime("%Y%m%d")
            day -= timedelta(days=1)
            if after is not None and partition > after[0]:
                continue
            query = "PartitionKey eq @pk and At ge @since and At le @until"
            params: dict[str, Any] = {"pk": partition, "since": since, "until": until}
            if after is not None and partition == after[0]:
                query += " and RowKey gt @after"
                params["after"] = after[1]
            if user_id is not None:
                query += " and UserId eq @user"
                params["user"] = user_id

            async def read(q: str = query, p: dict[str, Any] = params) -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = []
                async for row in table.query_entities(q, parameters=p, results_per_page=top + 1):
                    found.append(dict(row))
                    if len(rows) + len(found) > top:
                        break
                return found

            rows.extend(await guarded(read))
        page = rows[:top]
        more = len(rows) > top
        return page, ((page[-1]["PartitionKey"], page[-1]["RowKey"]) if more else None)


# --- entity mapping: flat properties, one prefix per part ------------------------------------------------


def hold_to_entity(hold: Hold) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(hold.user_id),
        "RowKey": HOLD_ROW,
        "UserId": hold.user_id,
        "User": hold.user,
        "Attempts": hold.attempts,
    }
    if hold.session:
        s = hold.session
        entity |= {
            "SessionAvailability": s.availability,
            "SessionActivity": s.activity,
            "SessionUntil": s.until,
            "SessionOwner": s.owner,
            "SessionUpdatedAt": s.updated_at,
        }
    if hold.preferred:
        p = hold.preferred
        entity |= {
            "PreferredAvailability": p.availability,
            "PreferredActivity": p.activity,
            "PreferredUntil": p.until,
            "PreferredKeepSessionAlive": p.keep_session_alive,
            "PreferredOwner": p.owner,
            "PreferredUpdatedAt": p.updated_at,
            "PreferredGraphExpiresAt": p.graph_expires_at,
        }
    if hold.message:
        m = hold.message
        entity |= {
            "Message": m.message,
            "MessageOwner": m.owner,
            "MessageUpdatedAt": m.updated_at,
            "MessageInGraph": m.in_graph,
        }
        if m.until is not None:
            entity["MessageUntil"] = m.until
        if m.replaced is not None:
            entity["MessageReplaced"] = m.replaced
        if m.replaced_until is not None:
            entity["MessageReplacedUntil"] = m.replaced_until
    if hold.graph_session:
        g = hold.graph_session
        entity |= {
            "GraphAvailability": g.availability,
            "GraphActivity": g.activity,
            "GraphSetAt": g.set_at,
            "GraphExpiresAt": g.expires_at,
        }
    if hold.last_error:
        e = hold.last_error
        entity |= {"LastErrorCode": e.code, "LastErrorMessage": e.message, "LastErrorAt": e.at}
    if hold.claimed_until:
        entity["ClaimedUntil"] = hold.claimed_until
    return entity


def _utc(value: Any) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), UTC)


def _message(e: dict[str, Any]) -> MessageHold:
    until = _utc(e["MessageUntil"]) if e.get("MessageUntil") else None
    return MessageHold(
        e["Message"],
        until,
        e["MessageOwner"],
        _utc(e["MessageUpdatedAt"]),
        e.get("MessageReplaced"),
        bool(e.get("MessageInGraph", True)),
        _utc(e["MessageReplacedUntil"]) if e.get("MessageReplacedUntil") else None,
    )


def hold_from_entity(e: dict[str, Any]) -> Hold:
    session = preferred = message = graph = error = None
    if "SessionAvailability" in e:
        session = SessionHold(
            e["SessionAvailability"],
            e["SessionActivity"],
            _utc(e["SessionUntil"]),
            e["SessionOwner"],
            _utc(e["SessionUpdatedAt"]),
        )
    if "PreferredAvailability" in e:
        preferred = PreferredHold(
            e["PreferredAvailability"],
            e["PreferredActivity"],
            _utc(e["PreferredUntil"]),
            bool(e["PreferredKeepSessionAlive"]),
            e["PreferredOwner"],
            _utc(e["PreferredUpdatedAt"]),
            _utc(e["PreferredGraphExpiresAt"]),
        )
    if "Message" in e:
        message = _message(e)
    if "GraphAvailability" in e:
        graph = GraphSession(
            e["GraphAvailability"], e["GraphActivity"], _utc(e["GraphSetAt"]), _utc(e["GraphExpiresAt"])
        )
    if "LastErrorCode" in e:
        error = Failure(e["LastErrorCode"], e["LastErrorMessage"], _utc(e["LastErrorAt"]))
    return Hold(
        user_id=e["UserId"],
        user=e["User"],
        session=session,
        preferred=preferred,
        message=message,
        graph_session=graph,
        attempts=int(e.get("Attempts", 0)),
        last_error=error,
        claimed_until=_utc(e["ClaimedUntil"]) if "ClaimedUntil" in e else None,
    )
