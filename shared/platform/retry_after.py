"""Retry-After, read once for every caller (the Graph gateway, the batch retries, the webhook sender)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(
    value: str | None, now: datetime, *, longest: float, default: float | None = None
) -> float | None:
    """The wait a Retry-After header asks for, in seconds from `now`: delta-seconds or an HTTP-date
    (RFC 9110 10.2.3), clamped to 0..`longest` (a date in the past is 0). `default` when the header is
    missing or unreadable (Graph does not promise one on every 429/503): the caller's own back-off."""
    text = (value or "").strip()
    if not text:
        return default
    if text.isascii() and text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:  # RFC 850 and asctime forms carry no zone: they are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), float(longest))
