"""`GET /api/health`'s checks, run at most once per interval whatever the traffic: the route is anonymous,
so its cost must not grow with its callers (a Graph call each time spent the tenant's presence budget)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from shared.platform.clock import Clock

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]
CHECK_TIMEOUT_SECONDS = 10


class HealthProbe:
    """The checks' last result, kept for `interval` on the service's clock. Callers arriving while a check
    runs wait for it and share its result (one check in flight, never one per caller)."""

    def __init__(self, checks: Mapping[str, Check], clock: Clock, interval: timedelta) -> None:
        self._checks = dict(checks)
        self._clock = clock
        self._interval = interval
        self._last: tuple[datetime, dict[str, bool]] | None = None
        self._turn = asyncio.Lock()

    async def state(self) -> dict[str, bool]:
        """Each check's outcome (True: it answered within 10 s)."""
        async with self._turn:
            now = self._clock.now()
            if self._last is not None and self._last[0] <= now < self._last[0] + self._interval:
                return self._last[1]
            names = list(self._checks)
            outcomes = await asyncio.gather(*(_passes(name, self._checks[name]) for name in names))
            self._last = (now, dict(zip(names, outcomes, strict=True)))
            return self._last[1]


async def _passes(name: str, check: Check) -> bool:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # a health check reports any failure, it never raises
        log.warning("health check %s failed: %s", name, type(exc).__name__)
        return False
    return True
