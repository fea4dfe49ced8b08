"""One Graph presence budget for the whole tenant, whatever the number of instances: at most
GRAPH_BUDGET_PER_30S requests in any 30 s, renewals of what is shown first."""

# Time is cut into 1-second slots. Each slot may hold `slot_cap(budget)` requests in all, counted in one
# Table storage row per slot that instances take shares from by ETag compare-and-swap and then spend
# locally, within that slot only (what is left when the slot ends is dropped). Any 30-second window of
# Graph's clock meets at most 30 + 2 * SKEW + 1 slots, so it never holds more than the budget while the
# instances' clocks stay within SKEW of Graph's (docs/architecture.md, "What waits, how long, and why").
#
# Lower priorities take only what is left above a reserve: renewals of what is shown now may take the whole
# slot, schedule starts and ends and callers' changes 90% of it, watch polls and reads 70%, and renewals
# that found a slot short reserve what they still need in the next one. Half a slot on, what renewals have
# not claimed opens: changes may fill the slot, reads 90% of it (`slot_room`). Within a process, waiters
# are served highest priority first. A timer waits until its own deadline; an HTTP caller
# waits at most GRAPH_BUDGET_WAIT_SECONDS, then gets a 429 `graphBudgetExhausted`. While storage is down,
# an instance spends a quarter of each slot on its own (reads that need no storage go on).

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import IntEnum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.platform import metrics
from shared.platform.clock import Clock
from shared.platform.errors import GRAPH_BUDGET_EXHAUSTED, ServiceError
from shared.platform.tables import TableStore, guarded

log = logging.getLogger(__name__)

WINDOW = 30  # seconds: the window Graph's presence budget is stated for
SKEW = 1  # seconds: how far an instance's clock (or a request's latency) may differ from Graph's
SLOTS_PER_WINDOW = WINDOW + 2 * SKEW + 1  # 1-second slots a 30-second window of Graph's may meet
RING = 120  # budget rows, reused round-robin (slot number modulo RING): no rows to purge
_PARTITION = "graph"
_CAS_ATTEMPTS = 5
_POLL = 0.1  # seconds: how often the first waiter looks again while a slot is spent (moved clocks too)
_EDGE = 0.002  # seconds past a slot's start (or its OPEN_AT) at which a refused first waiter asks again
_MIN_SHARE = 4  # tokens taken at once even for one waiter: fewer storage calls when the budget is ample
STORAGE_RETRY = 10.0  # seconds: after a storage failure, shares are not asked of storage for this long


class Priority(IntEnum):
    """Who goes first when the budget is short (lower value first)."""

    KEEP = 0  # renewals of what is shown now: a promise already made
    CHANGE = 1  # schedule starts and ends, callers' changes
    READ = 2  # watch polls, presence reads


# The part of each slot a priority may take: a lower one only takes what is left above a reserve.
SLOT_SHARE = {Priority.KEEP: 1.0, Priority.CHANGE: 0.9, Priority.READ: 0.7}
# From this far into a slot, what renewals have not claimed opens to the priority below: its reserve and
# its reservations (a slot's budget not taken by its end is lost, so it is better spent late than never).
OPEN_AT = 0.5

_priority: ContextVar[Priority | None] = ContextVar("graph_priority", default=None)
_wait_until: ContextVar[float | None] = ContextVar("graph_budget_wait_until", default=None)


def slot_cap(budget: int) -> int:
    """Requests a 1-second slot may hold so that no 30-second window exceeds `budget`."""
    return budget // SLOTS_PER_WINDOW


def slot_limit(cap: int, priority: Priority, elapsed: float = 0.0) -> int:
    """How full a slot may be for `priority` still to take from it, `elapsed` (0-1) into the slot: from
    OPEN_AT on, each priority below renewals may go as far as the one above it."""
    if elapsed >= OPEN_AT and priority > Priority.KEEP:
        priority = Priority(priority - 1)
    return max(1, math.floor(cap * SLOT_SHARE[priority])) if cap else 0


def slot_room(cap: int, priority: Priority, taken: int, reserved: int, elapsed: float) -> int:
    """Requests `priority` may still take from a slot that holds `taken`, of which `reserved` more are set
    aside for renewals (they may take them; others leave them alone until OPEN_AT)."""
    held = reserved if priority > Priority.KEEP and elapsed < OPEN_AT else 0
    return max(0, min(slot_limit(cap, priority, elapsed), cap - held) - taken)


def budget_exhausted(retry_after: int) -> ServiceError:
    return GRAPH_BUDGET_EXHAUSTED(
        "The tenant's Microsoft Graph presence budget is spent for now; retry after the time given.",
        retry_after=retry_after,
    )


def is_budget_exhausted(error: ServiceError) -> bool:
    return error.code == GRAPH_BUDGET_EXHAUSTED.code


@contextlib.contextmanager
def spending(priority: Priority, wait_until: float | None) -> Iterator[None]:
    """Graph calls made inside (and in tasks started inside) go at `priority` and wait for the budget until
    the monotonic instant `wait_until` at most (None: the HTTP caller's default wait)."""
    priority_token = _priority.set(priority)
    wait_token = _wait_until.set(wait_until)
    try:
        yield
    finally:
        _wait_until.reset(wait_token)
        _priority.reset(priority_token)


class GraphBudget:
    """`spend()` before each presence request. Shares are taken from Table storage; see the module doc."""

    SUFFIX = "Budget"

    def __init__(
        self,
        store: TableStore,
        clock: Clock,
        budget: int,
        *,
        wait_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self.cap = slot_cap(budget)
        self._max_share = max(1, self.cap // 4)  # a few instances can share a busy slot
        self._wait = wait_seconds
        self._monotonic = monotonic
        self._slot: int | None = None
        self._tokens = 0  # taken for self._slot and not spent yet
        self._denied: Priority | None = None  # the highest priority refused in self._slot (this half)
        self._opened = False  # self._slot is past OPEN_AT
        self._reserved_next = False  # renewals short in self._slot reserved a part of the next one
        self._local_taken = 0  # taken in self._slot on this instance's own, while storage is down
        self._storage_down_until = float("-inf")  # monotonic: until then shares are not asked of storage
        self._queue: list[tuple[tuple[Priority, int], asyncio.Event]] = []  # (priority, arrival): first
        self._arrivals = itertools.count()
        self._taking = asyncio.Lock()

    async def spend(self, default: Priority) -> None:
        """Take one request from the tenant's budget, at the priority the caller set (`spending`) or
        `default`; raises a 429 `graphBudgetExhausted` when none comes before the caller's wait ends."""
        priority = _priority.get()
        priority = default if priority is None else priority
        wait_until = _wait_until.get()
        if wait_until is None:
            wait_until = self._monotonic() + self._wait
        ticket = (priority, next(self._arrivals))
        turn = asyncio.Event()  # set when this waiter becomes the first
        heapq.heappush(self._queue, (ticket, turn))
        waited = False
        try:
            while True:
                first = self._queue[0][0] == ticket
                if first:
                    async with self._taking:  # one share taken at a time (a newcomer may go first)
                        if await self._take(priority):
                            if waited:
                                metrics.graph_budget_wait("waited")
                            return
                left = wait_until - self._monotonic()
                if left <= 0:
                    metrics.graph_budget_wait("refused")
                    raise budget_exhausted(retry_after=2)
                waited = True
                turn.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(left, self._next_chance()) if first else left):
                        await turn.wait()
        finally:
            self._queue.remove((ticket, turn))
            heapq.heapify(self._queue)
            if self._queue:
                self._queue[0][1].set()  # only the next in line wakes: no herd

    async def _take(self, priority: Priority) -> bool:
        now = self._clock.now().timestamp()
        slot = math.floor(now)
        opened = now - slot >= OPEN_AT
        if slot != self._slot:  # a new slot: what was left of the last one is gone
            self._slot, self._tokens, self._denied, self._local_taken = slot, 0, None, 0
            self._opened, self._reserved_next = False, False
        if opened and not self._opened:  # the reserve opened: whoever was refused may ask again
            self._opened, self._denied = True, None
        if self._tokens == 0 and (self._denied is None or priority < self._denied):
            want = min(self._max_share, max(_MIN_SHARE, len(self._queue)))
            if self._monotonic() < self._storage_down_until:
                self._tokens = self._local_share(priority, want)
            else:
                try:
                    self._tokens = await self._lease(slot, priority, want, now - slot)
                    if priority == Priority.KEEP and self._tokens < want and not self._reserved_next:
                        self._reserved_next = True  # once a slot: renewals short now go first next second
                        await self._lease(slot + 1, priority, want - self._tokens, 0.0, reserve=True)
                except ServiceError as error:
                    log.warning("Graph budget: storage unavailable (%s); a quarter share alone", error.code)
                    self._storage_down_until = self._monotonic() + STORAGE_RETRY
                    self._tokens = self._local_share(priority, want)
            if self._tokens == 0:
                self._denied = priority
        if self._tokens == 0:
            return False
        self._tokens -= 1
        return True

    def _next_chance(self) -> float:
        """Seconds until the slot may have room again: the next slot, or this one's OPEN_AT (at most _POLL:
        a moved clock is looked at again)."""
        now = self._clock.now().timestamp()
        into = now - math.floor(now)
        edge = OPEN_AT if into < OPEN_AT else 1.0
        return min(_POLL, edge - into + _EDGE)

    def _local_share(self, priority: Priority, want: int) -> int:
        """While storage is down: this instance alone takes at most a quarter of each slot, so reads that
        need no storage go on (four instances at once stay within the budget; more may not)."""
        grant = max(0, min(want, slot_limit(self._max_share, priority) - self._local_taken))
        self._local_taken += grant
        return grant

    async def _lease(
        self, slot: int, priority: Priority, want: int, elapsed: float, *, reserve: bool = False
    ) -> int:
        """Take up to `want` requests of `slot` from its row (compare-and-swap), `elapsed` into it; how many
        were granted. `reserve`: set them aside for renewals instead (the slot has not begun)."""
        table = await self._store.table(self.SUFFIX)
        row = f"{slot % RING:03d}"
        for _ in range(_CAS_ATTEMPTS):
            try:
                entity = await guarded(lambda: table.get_entity(_PARTITION, row))
            except ResourceNotFoundError:
                entity = None
            current = entity is not None and entity.get("Slot") == str(slot)  # not a slot RING ago
            taken = int(entity["Taken"]) if current else 0
            reserved = int(entity.get("Reserved") or 0) if current else 0
            if reserve:
                grant = min(want, self.cap - taken - reserved)
                taken_after, reserved_after = taken, reserved + grant
            else:
                grant = min(want, slot_room(self.cap, priority, taken, reserved, elapsed))
                taken_after = taken + grant
                reserved_after = max(0, reserved - grant) if priority == Priority.KEEP else reserved
            if grant <= 0:
                return 0
            new = {
                "PartitionKey": _PARTITION,
                "RowKey": row,
                "Slot": str(slot),
                "Taken": taken_after,
                "Reserved": reserved_after,
            }
            try:
                await guarded(functools.partial(self._write, table, new, entity))
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another instance took a share meanwhile: read again
            return grant
        return 0

    @staticmethod
    async def _write(table: TableClient, new: dict[str, Any], read: Any) -> None:
        """Create the slot's row, or replace it if it is still as `read` (its ETag)."""
        if read is None:
            await table.create_entity(new)
        else:
            await table.update_entity(
                new,
                mode=UpdateMode.REPLACE,
                etag=read.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
