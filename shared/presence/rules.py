"""Graph's presence rules as the service applies them before any call: the settable pairs, the window a
hold covers (durationMinutes / until + timeZone), and status-message text. Pure; a violation is a 400
naming the field."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Literal

from shared.platform.errors import (
    INVALID_MESSAGE,
    INVALID_PRESENCE,
    INVALID_REQUEST,
    INVALID_TIME,
    FieldError,
)
from shared.platform.timezones import resolve_zone

# Graph: the only availability/activity pairs setPresence accepts (an application session).
SESSION_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    }
)
# Graph: the pairs setUserPreferredPresence accepts; Offline/OffWork is "appear offline".
PREFERRED_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Away", "Away"),
        ("Offline", "OffWork"),
    }
)

# Graph's presence resource: every availability and activity it may show (what a watch can filter on).
AVAILABILITIES: tuple[str, ...] = (
    "Available",
    "AvailableIdle",
    "Away",
    "BeRightBack",
    "Busy",
    "BusyIdle",
    "DoNotDisturb",
    "Offline",
    "PresenceUnknown",
)
ACTIVITIES: tuple[str, ...] = (
    "Available",
    "AvailableInactive",
    "Away",
    "BeRightBack",
    "Busy",
    "DoNotDisturb",
    "Focusing",
    "InACall",
    "InAConferenceCall",
    "Inactive",
    "InAMeeting",
    "Offline",
    "OffWork",
    "OutOfOffice",
    "PresenceUnknown",
    "Presenting",
    "UrgentInterruptionsOnly",
)

# Graph: a session's expirationDuration is 5 minutes to 4 hours; a preferred presence's at most 7 days
# (the strict reading of Graph's docs, see localdev/graph/README.md).
SESSION_MIN = timedelta(minutes=5)
SESSION_MAX = timedelta(hours=4)
PREFERRED_MAX = timedelta(days=7)
DEFAULT_HOLD = timedelta(minutes=60)
MESSAGE_MAX_CHARS = 280
# Bidirectional overrides and isolates can make a message read differently from what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


PresenceKind = Literal["session", "preferred"]


def readable(name: str) -> str:
    """Graph's PascalCase value as a maker reads it: InAConferenceCall -> "In a conference call"."""
    words = re.findall(r"[A-Z][a-z]*", name) or [name]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def pair_name(availability: str, activity: str) -> str:
    """A presence as a maker reads it: "Busy (in a call)", or "Away" when both say the same."""
    if availability == activity:
        return readable(availability)
    return f"{readable(availability)} ({readable(activity).lower()})"


def settable_activities(kind: PresenceKind, availability: str) -> list[str]:
    """The activities that go with `availability` in a `kind` presence (the designer's second drop-down),
    or a 400 `invalidPresence` naming availability when it cannot be set at all."""
    pairs = SESSION_PAIRS if kind == "session" else PREFERRED_PAIRS
    activities = sorted(b for a, b in pairs if a == availability)
    if not activities:
        allowed = ", ".join(sorted({a for a, _ in pairs}))
        raise INVALID_PRESENCE(
            f"Not settable as a {kind} presence. Allowed: {allowed}.", field="availability"
        )
    return activities


def check_pair(kind: PresenceKind, availability: str, activity: str) -> None:
    pairs = SESSION_PAIRS if kind == "session" else PREFERRED_PAIRS
    if (availability, activity) in pairs:
        return
    allowed = ", ".join(f"{a}/{b}" for a, b in sorted(pairs))
    field = "availability" if availability not in {a for a, _ in pairs} else "activity"
    raise INVALID_PRESENCE(
        f"{availability}/{activity} cannot be set as a {kind} presence. Allowed: {allowed}.",
        errors=[FieldError(field, f"Allowed pairs: {allowed}.")],
    )


def parse_until(until: str, time_zone: str | None, field: str = "until") -> datetime:
    """An instant from `until`: ISO 8601 with an offset, or without one plus `timeZone` (IANA or Windows
    name). A local time that does not exist or repeats (daylight saving) takes the earlier offset."""
    try:
        parsed = datetime.fromisoformat(until)
    except ValueError:
        raise INVALID_TIME(
            "Use ISO 8601, e.g. 2026-11-23T17:00:00+01:00 or 2026-11-23T17:00:00.", field=field
        ) from None
    if parsed.tzinfo is None:
        if not time_zone:
            raise INVALID_TIME(
                "This time has no offset: add one (…+01:00, …Z) or give timeZone.", field=field
            )
        parsed = parsed.replace(tzinfo=resolve_zone(time_zone))
    elif time_zone:
        resolve_zone(time_zone)  # still a 400 when the zone is unknown, even though the offset wins
    return parsed


def hold_end(
    now: datetime,
    *,
    duration_minutes: int | None,
    until: str | None,
    time_zone: str | None,
    max_days: int,
    default: timedelta | None = DEFAULT_HOLD,
) -> datetime | None:
    """When a hold that starts `now` ends. durationMinutes and until exclude each other; neither means
    `default` (None: no end). The end must be at least 5 minutes away and at most MAX_HOLD_DAYS."""
    if duration_minutes is not None and until is not None:
        raise INVALID_REQUEST("Give durationMinutes or until, not both.", field="until")
    if time_zone is not None and until is None:
        resolve_zone(time_zone)
    if until is not None:
        end = parse_until(until, time_zone)
        field = "until"
    elif duration_minutes is not None:
        end, field = now + timedelta(minutes=duration_minutes), "durationMinutes"
    else:
        return None if default is None else now + default
    if end - now < SESSION_MIN:
        raise INVALID_TIME("The end must be at least 5 minutes from now.", field=field)
    check_hold_length(end - now, max_days, field)
    return end


def check_hold_length(length: timedelta, max_days: int, field: str) -> None:
    """The one rule for how long the service may hold anything, however it was asked: a direct hold from
    now to its end, a schedule's occurrence from its start to its end, at most MAX_HOLD_DAYS."""
    if length > timedelta(days=max_days):
        raise INVALID_TIME(
            f"The end must be within {max_days} days of the start (MAX_HOLD_DAYS).", field=field
        )


def check_message(message: str) -> str:
    """1-280 characters of plain text, without control characters (line breaks included)."""
    if not message or not message.strip():
        raise INVALID_MESSAGE("The message is empty; DELETE clears it.", field="message")
    if len(message) > MESSAGE_MAX_CHARS:
        raise INVALID_MESSAGE(f"At most {MESSAGE_MAX_CHARS} characters.", field="message")
    if any(unicodedata.category(ch) in {"Cc", "Cs"} or ch in _BIDI_CONTROLS for ch in message):
        raise INVALID_MESSAGE("Control characters are not allowed.", field="message")
    return message
