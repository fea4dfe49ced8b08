"""Caps that hold under concurrency (live schedules per user, watches per signed-in user): a counter row per
(kind, owner) in Table storage, taken with an ETag compare-and-swap before the create and given back when
the thing is deleted."""

# A counter can only run high (a create that crashed after taking, a delete that crashed before giving
# back, a schedule that completed or a watch the purge removed): when it says full, the real rows are
# counted and the counter set to that, but only once nothing can still be in flight, i.e. when it last
# moved more than RECONCILE_AFTER ago (a function's timeout). So capacity is never lost for longer than
# that, and a count is made at most once per RECONCILE_AFTER per full owner, however often it asks.

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.platform.clock import Clock
from shared.platform.errors import QUOTA_BUSY, ServiceError
from shared.platform.keys import encode_key
from shared.platform.tables import Conflict, TableStore, guarded, replace_entity

log = logging.getLogger(__name__)

SUFFIX = "Quotas"
RECONCILE_AFTER = timedelta(minutes=10)  # the Functions timeout: no create that took a slot runs longer
_ROUNDS = 30  # compare-and-swap attempts before a 409 "busy" (other instances racing for the same row)

Count = Callable[[], Awaitable[int]]


class Quotas:
    def __init__(self, store: TableStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        # One taker per owner at a time in this instance (no swap lost to a neighbour); the ETag
        # compare-and-swap is what holds across instances.
        self._turns: dict[tuple[str, str], asyncio.Lock] = {}

    async def take(self, kind: str, owner: str, limit: int, count: Count, full: ServiceError) -> None:
        """One slot of `owner`'s `limit` of `kind`, or `full` (a 409) when all are taken. `count` counts
        the owner's real rows, for when the counter says full."""
        table = await self._store.table(SUFFIX)
        keys = (kind, encode_key(owner))
        turn = self._turns.setdefault(keys, asyncio.Lock())
        try:
            async with turn:
                await self._take(table, keys, limit, count, full)
        finally:
            if not turn.locked():
                self._turns.pop(keys, None)  # bounded by the owners taking right now

    async def _take(
        self, table: Any, keys: tuple[str, str], limit: int, count: Count, full: ServiceError
    ) -> None:
        for _ in range(_ROUNDS):
            row = await _read(table, *keys)
            now = self._clock.now()
            used = int(row["Used"]) if row else 0
            if used >= limit:
                changed: datetime = row["ChangedAt"] if row else now
                if changed <= now < changed + RECONCILE_AFTER:
                    raise _with_retry(full, changed + RECONCILE_AFTER - now)
                used = await count()
                if used >= limit:
                    with contextlib.suppress(Conflict):  # counted: not again for RECONCILE_AFTER
                        await _write(table, keys, used, now, row)
                    raise _with_retry(full, RECONCILE_AFTER)
                log.info("quota %s reconciled to %d", keys[0], used)
            try:
                await _write(table, keys, used + 1, now, row)
                return
            except Conflict:
                await _pause()
        raise QUOTA_BUSY("Too many requests at once for this owner; retry.", retry_after=1)

    async def give_back(self, kind: str, owner: str) -> None:
        """One slot back (the thing was deleted, or its create failed). Best effort: a slot not given back
        is found by the reconciliation."""
        try:
            table = await self._store.table(SUFFIX)
            keys = (kind, encode_key(owner))
            for _ in range(_ROUNDS):
                row = await _read(table, *keys)
                if row is None or int(row["Used"]) <= 0:
                    return
                try:
                    await _write(table, keys, int(row["Used"]) - 1, self._clock.now(), row)
                    return
                except Conflict:
                    await _pause()
        except ServiceError as error:
            log.warning("quota %s not given back (%s); reconciled when full", kind, error.code)


async def _read(table: Any, pk: str, rk: str) -> Any:
    try:
        return await guarded(lambda: table.get_entity(pk, rk))
    except ResourceNotFoundError:
        return None


async def _write(table: Any, keys: tuple[str, str], used: int, now: datetime, row: Any) -> None:
    """The counter as `used`, only if it is still the version read (`row`; None: only if still absent)."""
    entity = {"PartitionKey": keys[0], "RowKey": keys[1], "Used": used, "ChangedAt": now}
    if row is None:
        try:
            await guarded(lambda: table.create_entity(entity))
        except ResourceExistsError:
            raise Conflict(keys[1]) from None
    else:
        await replace_entity(table, entity, row.metadata["etag"])


async def _pause() -> None:
    """10-50 ms, spread so racing instances do not collide again in step."""
    await asyncio.sleep(0.01 + secrets.randbelow(40) / 1000)


def _with_retry(error: ServiceError, wait: timedelta) -> ServiceError:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return replace(error, headers={**error.headers, "Retry-After": str(seconds)})
