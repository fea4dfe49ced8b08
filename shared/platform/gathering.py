"""Running many awaitables side by side, a bounded number at a time (Graph calls, table round trips)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather_bounded(calls: Sequence[Awaitable[T]], limit: int) -> list[T]:
    """The results in order; at most `limit` of the calls run at once (each starts when its turn comes)."""
    turns = asyncio.Semaphore(limit)

    async def in_turn(call: Awaitable[T]) -> T:
        async with turns:
            return await call

    return list(await asyncio.gather(*(in_turn(call) for call in calls)))
