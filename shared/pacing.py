"""Keeping under Graph's throttle rather than running into it: presence calls are budgeted per app and
tenant (graph-presence.md: plan for 1,500 requests per 30 s). A token bucket that refills evenly and
bursts at most a second's worth, sized so that no 30-second window ever holds more than the budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

WINDOW = 30.0  # seconds: the window Graph's presence budget is stated for


class Pacer:
    """`wait()` before each Graph request: at most `budget` requests in any `WINDOW` seconds."""

    def __init__(
        self,
        budget: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.burst = max(1, budget // int(WINDOW))  # a second's worth at once
        # burst + rate * WINDOW == budget: the fullest possible window still fits.
        self.rate = max(budget - self.burst, 1) / WINDOW
        self._tokens = float(self.burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:  # one waiter at a time: tokens are handed out in arrival order
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self.rate)
                now = self._monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
            self._tokens -= 1
