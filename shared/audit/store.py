"""The audit trail in Table storage: one row per change, partitioned by UTC day, newest first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.platform.tables import TableStore, delete_where, guarded


@dataclass(frozen=True)
class AuditRecord:
    """One change: when, by whom, to whose presence, what, and how it went."""

    at: datetime
    caller: str
    user: str  # as the caller named the user
    user_id: str
    operation: str  # e.g. "session.set", "schedule.start"
    outcome: str  # "ok" or an error code
    graph_request_id: str | None = None
    schedule_id: str | None = None
    watch_id: str | None = None


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
    ) -> tuple[list[AuditRecord], tuple[str, str] | None]:
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
        return [_record(row) for row in page], (
            (page[-1]["PartitionKey"], page[-1]["RowKey"]) if more else None
        )

    async def purge(self, before: datetime) -> int:
        """Drop the days wholly before `before` (UTC days: one partition each)."""
        day = before.astimezone(UTC).strftime("%Y%m%d")
        return await delete_where(self._store, self.SUFFIX, "PartitionKey lt @day", {"day": day})


def _record(row: dict[str, Any]) -> AuditRecord:
    at: datetime = row["At"]
    return AuditRecord(
        at=datetime.fromtimestamp(at.timestamp(), UTC),
        caller=row["Caller"],
        user=row["User"],
        user_id=row["UserId"],
        operation=row["Operation"],
        outcome=row["Outcome"],
        graph_request_id=row.get("GraphRequestId") or None,
        schedule_id=row.get("ScheduleId") or None,
        watch_id=row.get("WatchId") or None,
    )
