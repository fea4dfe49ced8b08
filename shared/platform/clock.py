"""The service's one clock: the system clock in Azure; the local host may move or stop it so tests can
travel in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """UTC wall time plus an offset, or a stopped instant; only the local host (localdev) changes it."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def set_now(self, now: datetime, *, frozen: bool = False) -> None:
        """Make `now()` answer `now` at this instant; time then runs on from there, or stands still."""
        if now.tzinfo is None:
            raise ValueError("now must carry an offset")
        now = now.astimezone(UTC)
        self._frozen = now if frozen else None
        self._offset = now - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen = None


system_clock = Clock()
