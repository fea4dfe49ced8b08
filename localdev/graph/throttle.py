"""Graph's presence budget (graph-presence.md: 1,500 requests per 30 s per app and tenant): a sliding
30-second window per calling app over the emulator clock; past it a 429 with Retry-After, as Graph
answers. Requests refused are not counted in the window (Graph does not say; they did no work)."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(seconds=30)
DEFAULT_LIMIT = 1500
_PRESENCE_SEGMENTS = frozenset({"presence", "presences", "getpresencesbyuserid"})


def is_presence_request(segments: tuple[str, ...]) -> bool:
    """A request Graph counts against the presence budget: reads and writes of presence."""
    return any(s.lower().removeprefix("microsoft.graph.") in _PRESENCE_SEGMENTS for s in segments)


class PresenceBudget:
    def __init__(self, limit: int | None = None) -> None:
        self.default = limit
        self.set(limit)

    def set(self, limit: int | None) -> None:
        """`limit` requests per app in any 30 s; None turns the budget off. The window starts empty."""
        self.limit = limit
        self._sent: dict[str, deque[datetime]] = {}
        self.refused = 0

    def reset(self) -> None:
        self.set(self.default)

    def take(self, app_id: str, now: datetime) -> int | None:
        """Count one presence request of `app_id` at `now`: None when admitted, else the Retry-After
        seconds (until the oldest request in the window leaves it)."""
        if self.limit is None:
            return None
        sent = self._sent.setdefault(app_id, deque())
        while sent and sent[0] <= now - WINDOW:
            sent.popleft()
        if len(sent) >= self.limit:
            self.refused += 1
            return max(1, math.ceil((sent[0] + WINDOW - now).total_seconds()))
        sent.append(now)
        return None

    def to_json(self, now: datetime) -> dict[str, Any]:
        in_window = {app: sum(1 for t in sent if t > now - WINDOW) for app, sent in self._sent.items()}
        return {
            "limit": self.limit,
            "windowSeconds": int(WINDOW.total_seconds()),
            "inWindow": in_window,
            "refused": self.refused,
        }
