"""The emulator's clock: real UTC time plus an offset, or frozen at an instant. Tests move it, never sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class EmulatorClock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        return self._frozen_at if self._frozen_at is not None else datetime.now(UTC) + self._offset

    def set(self, now: datetime, *, frozen: bool) -> None:
        if now.tzinfo is None:
            raise ValueError("now must carry an offset")
        now = now.astimezone(UTC)
        self._frozen_at = now if frozen else None
        self._offset = now - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        if self._frozen_at is not None:
            self._frozen_at += delta
        self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen_at = None


def iso_z(instant: datetime) -> str:
    """UTC ISO 8601 with a Z, e.g. 2026-11-22T14:00:00Z or 2026-11-22T14:00:00.250000Z."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def graph_datetime(instant: datetime) -> str:
    """Graph's DateTimeOffset form, 7 fractional digits and a Z: 2026-11-22T14:00:00.0000000Z."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
