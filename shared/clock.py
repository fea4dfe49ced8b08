"""The service's one clock: the system clock in Azure; the local host may move it so tests can travel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """UTC wall time plus an offset that only the local host (localdev) ever changes."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set_now(self, now: datetime) -> None:
        """Make `now()` answer `now` at this instant; time then keeps running from there."""
        if now.tzinfo is None:
            raise ValueError("now must carry an offset")
        self._offset = now - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)


system_clock = Clock()
