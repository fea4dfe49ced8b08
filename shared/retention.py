"""purge_history: what is kept, and for how long; each store purges its own tables."""

# Audit rows, finished schedules and disabled watches for RETENTION_DAYS (rows of deleted watches not at
# all), idempotency keys and delivered watch notifications for 24 hours, cached user ids until they
# expire. Runs daily; each sweep is one filtered scan per table, deleting in transactions of up to 100
# rows per partition.

from __future__ import annotations

from datetime import datetime, timedelta

from shared.audit.store import AuditLog
from shared.directory.store import UserCache
from shared.platform.tables import TableStore
from shared.schedules.service import IDEMPOTENCY_TTL
from shared.schedules.store import IdempotencyStore, ScheduleStore
from shared.watches.store import WatchStore

SETTLED_TTL = timedelta(days=1)  # delivered notifications: a late poller must not make one again


async def purge_history(store: TableStore, now: datetime, retention_days: int) -> dict[str, int]:
    """Delete what is past its keeping time; returns how many rows each table lost."""
    cutoff = now - timedelta(days=retention_days)
    audit, watches = AuditLog(store), WatchStore(store)
    purged = {
        "Audit": await audit.purge(cutoff),
        "Idempotency": await IdempotencyStore(store).purge(now - IDEMPOTENCY_TTL),
        "UserCache": await UserCache(store).purge(now),
        "WatchState": await watches.purge_settled(now - SETTLED_TTL),
        "Watches": await watches.sweep(cutoff, now),
        "Schedules": await ScheduleStore(store).purge_finished(cutoff),
    }
    await audit.append(now, "timer:purge_history", "", "", "history.purge", "ok")
    return purged
