"""Time-zone names: IANA (Europe/Berlin) and Windows (W. Europe Standard Time), resolved in one place."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz  # Windows -> IANA, from the Unicode CLDR mapping

from shared.platform.errors import INVALID_TIME_ZONE


@lru_cache(maxsize=512)
def resolve_zone(name: str, field: str = "timeZone") -> ZoneInfo:
    """The zone called `name`, or a 400 `invalidTimeZone` naming `field`."""
    key = win_tz.get(name, name)
    if key in {"UTC", "Etc/UTC", "Z"}:
        return ZoneInfo("UTC")
    try:
        if "/" not in key and key not in {"GMT", "UTC"}:
            raise ZoneInfoNotFoundError(key)  # bare abbreviations such as "CET" or "EST" are ambiguous
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise INVALID_TIME_ZONE(
            f"'{name[:64]}' is not an IANA or Windows time-zone name.", field=field
        ) from None


def zone_choices() -> list[tuple[str, str]]:
    """The designer's time-zone drop-down: each Windows name (what Outlook and Power Automate's own time
    actions use) with its IANA zone, e.g. ("W. Europe Standard Time", "Europe/Berlin"); both are accepted."""
    return sorted(win_tz.items())
