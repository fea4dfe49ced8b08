"""purge_history: what is kept, and for how long. Audit rows, finished schedules and disabled watches for
RETENTION_DAYS (rows of deleted watches not at all), idempotency keys and delivered watch notifications
for 24 hours, cached user ids until they expire. Runs daily; each sweep is one filtered scan per table and
deletes in transactions of up to 100 rows per partition."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.audit.store import AuditLog
from shared.platform.keys import encode_key
from shared.platform.tables import TableStore, guarded, submit_batches
from shared.schedules.service import IDEMPOTENCY_TTL
from shared.watches.store import OUTBOX, WatchStore

SETTLED_TTL = timedelta(days=1)


async def purge_history(store: TableStore, now: datetime, retention_days: int) -> dict[str, int]:
    """Delete what is past its keeping time; returns how many rows each table lost."""
    cutoff = now - timedelta(days=retention_days)
    purged = {
        "Audit": await _purge(
            store, "Audit", "PartitionKey lt @day", {"day": cutoff.astimezone(UTC).strftime("%Y%m%d")}
        ),
        "Idempotency": await _purge(store, "Idempotency", "CreatedAt lt @at", {"at": now - IDEMPOTENCY_TTL}),
        "UserCache": await _purge(store, "UserCache", "ExpiresAt lt @at", {"at": now}),
        # Delivered (or dropped) watch notifications: kept a day so a late poller cannot make one again.
        "WatchState": await _purge(
            store,
            "WatchState",
            "RowKey gt @outbox and Status ne 'pending' and SettledAt lt @at",
            {"outbox": OUTBOX, "at": now - SETTLED_TTL},
        ),
    }
    finished = await _rows(
        store,
        "Schedules",
        "UpdatedAt lt @at and (Status eq 'completed' or Status eq 'cancelled' or Status eq 'failed')",
        {"at": cutoff},
        ["PartitionKey", "RowKey", "UserId"],
    )
    purged["Watches"] = await WatchStore(store).sweep(cutoff, now)
    await _delete(store, "ScheduleIndex", [(encode_key(r["UserId"]), r["PartitionKey"]) for r in finished])
    await _delete(store, "Schedules", [(r["PartitionKey"], r["RowKey"]) for r in finished])
    purged["Schedules"] = len(finished)
    await AuditLog(store).append(now, "timer:purge_history", "", "", "history.purge", "ok")
    return purged


async def _purge(store: TableStore, suffix: str, query: str, params: dict[str, Any]) -> int:
    rows = await _rows(store, suffix, query, params, ["PartitionKey", "RowKey"])
    await _delete(store, suffix, [(r["PartitionKey"], r["RowKey"]) for r in rows])
    return len(rows)


async def _rows(
    store: TableStore, suffix: str, query: str, params: dict[str, Any], select: list[str]
) -> list[dict[str, Any]]:
    table = await store.table(suffix)

    async def read() -> list[dict[str, Any]]:
        return [row async for row in table.query_entities(query, parameters=params, select=select)]

    return await guarded(read)


async def _delete(store: TableStore, suffix: str, keys: Iterable[tuple[str, str]]) -> None:
    table = await store.table(suffix)
    await submit_batches(table, [("delete", {"PartitionKey": pk, "RowKey": rk}) for pk, rk in keys])
