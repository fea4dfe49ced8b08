"""ISO 8601 durations, the form Graph's Edm.Duration travels in (`PT4H`, `PT1H10M`, `P7D`)."""

# msgraph-sdk would serialize a timedelta as str(timedelta) ("4:00:00"), which Graph refuses, so the
# service always hands it these strings.

from __future__ import annotations

from datetime import timedelta


def iso_duration(delta: timedelta) -> str:
    """Whole seconds, largest units first; zero is PT0S."""
    total = int(delta.total_seconds())
    if total < 0:
        raise ValueError("a Graph duration cannot be negative")
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    date = f"{days}D" if days else ""
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")
