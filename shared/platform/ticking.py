"""One timer tick over a kind of due work: page after page of due entries until none is due or the
tick's time is up, each acted on within the Graph budget."""

# The next page is read while one is worked on; timers wait for the budget up to their deadline. Entries
# a tick leaves due (claimed elsewhere, failed, past the deadline) are not read again in the same tick:
# the next tick finds them.

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shared.platform.budget import Priority, spending
from shared.platform.clock import Clock
from shared.platform.timeline import DueEntry, Timeline

PAGE_SIZE = 1000  # Table storage answers at most 1,000 rows a page
# Entries worked on at once per Graph call allowed in flight (GRAPH_CONCURRENCY): an entry spends most of
# its time on storage round trips (read, claim, record, re-index, audit), so with one entry per Graph call
# the tick, not Graph's budget, set the pace (peak_hour: starts at 0.8x of the budget). Their Graph calls
# still wait for GRAPH_CONCURRENCY and the budget.
ENTRIES_PER_GRAPH_CALL = 4


async def drain_due(
    timeline: Timeline,
    kind: str,
    clock: Clock,
    act: Callable[[DueEntry], Awaitable[int]],
    *,
    priority: Priority,
    concurrency: int,
    time_limit: float,
    page_size: int = PAGE_SIZE,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Act on every entry of `kind` that is due, `concurrency` (GRAPH_CONCURRENCY) times
    ENTRIES_PER_GRAPH_CALL at a time; no entry is started after
    `time_limit` seconds, and Graph calls wait for the budget no longer than that. Returns the sum of what
    `act` returned."""
    deadline = monotonic() + time_limit
    read: dict[str, str] = {}  # partition -> the last RowKey read: the next page starts after it
    in_flight = concurrency * ENTRIES_PER_GRAPH_CALL
    # The next page is read while this one is worked on, and each worker takes the next entry as soon as
    # it is free: a tick never idles the budget between pages (waiting for a page's last entries, then
    # for the read of the next one).
    pending: asyncio.Queue[DueEntry | None] = asyncio.Queue(maxsize=page_size)
    total = 0

    async def read_pages() -> None:
        try:
            while monotonic() < deadline:
                page = await timeline.due(clock.now(), kind, page_size, read)
                if not page:
                    break
                read.update((e.partition, e.row) for e in page)
                for entry in page:
                    await pending.put(entry)
        finally:
            for _ in range(in_flight):  # each worker stops when it takes one
                await pending.put(None)

    async def work() -> None:
        nonlocal total
        while (entry := await pending.get()) is not None:
            if monotonic() < deadline:
                done = await act(entry)  # not `total += await ...`: that reads `total` before the wait
                total += done

    with spending(priority, deadline):
        tasks = [asyncio.ensure_future(read_pages())]
        tasks += [asyncio.ensure_future(work()) for _ in range(in_flight)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # one failed: the others stop too
                task.cancel()
    return total
