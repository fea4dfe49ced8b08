"""Graph's validation rules for the presence surface, in one place: pairs, durations, zones, ids, CSDL bodies;
and for service principals: the $filter forms served and the body of an app role grant.

Where Graph's documentation is unclear the strict reading is taken and marked "strict reading" here, so
it can be changed in one place when a real tenant shows otherwise.

The service keeps its own copy of the settable pairs in shared/. This module deliberately does not
import it: the emulator models Graph, and a stand-in that imported the code under test would prove
nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from tzlocal.windows_tz import win_tz

from localdev.graph.csdl import Member, Schema, schema
from localdev.graph.errors import bad_request, unsupported_query

# --- availability / activity -------------------------------------------------------------------------

AVAILABILITIES = frozenset(
    {
        "Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb", "Offline",
        "PresenceUnknown",
    }
)  # fmt: skip
ACTIVITIES = frozenset(
    {
        "Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall", "InAConferenceCall",
        "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice", "PresenceUnknown", "Presenting",
        "UrgentInterruptionsOnly", "AvailableInactive", "Focusing",
    }
)  # fmt: skip

# Graph: the only pairs setPresence accepts (values are case-sensitive: strict reading).
SESSION_PAIRS = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    }
)
# Graph: the only pairs setUserPreferredPresence accepts.
PREFERRED_PAIRS = frozenset(
    {
        ("Available", "Available"),
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Away", "Away"),
        ("Offline", "OffWork"),
    }
)

# Aggregation among sessions: DoNotDisturb > Busy > Available > Away (Graph). The idle/BeRightBack/Offline
# ranks only matter for simulated Teams clients and are the emulator's choice.
PRECEDENCE: dict[str, int] = {
    "DoNotDisturb": 70,
    "Busy": 60,
    "BusyIdle": 50,
    "Available": 40,
    "AvailableIdle": 30,
    "BeRightBack": 20,
    "Away": 10,
    "Offline": 0,
    "PresenceUnknown": 0,
}

# Graph: an Available session that is not refreshed fades.
FADE_TO_INACTIVE = timedelta(minutes=5)  # -> Available/AvailableInactive
FADE_TO_AWAY = timedelta(minutes=10)  # -> Away/Away


def check_session_pair(availability: str, activity: str) -> None:
    if (availability, activity) not in SESSION_PAIRS:
        raise bad_request(
            f"The availability/activity pair '{availability}/{activity}' cannot be set with setPresence. "
            f"Allowed: {_pairs(SESSION_PAIRS)}."
        )


def check_preferred_pair(availability: str, activity: str) -> None:
    if (availability, activity) not in PREFERRED_PAIRS:
        raise bad_request(
            f"The availability/activity pair '{availability}/{activity}' cannot be set with "
            f"setUserPreferredPresence. Allowed: {_pairs(PREFERRED_PAIRS)}."
        )


def _pairs(pairs: frozenset[tuple[str, str]]) -> str:
    return ", ".join(f"{a}/{b}" for a, b in sorted(pairs))


# --- ISO 8601 durations (Edm.Duration) ----------------------------------------------------------------

# OData's Edm.Duration: [-]P[nD][T[nH][nM][n[.n]S]]. OData refuses years and months (their length is not
# fixed), and so do we; letters are upper case, as .NET's XmlConvert.ToTimeSpan requires.
_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<days>\d{1,9})D)?"
    r"(?:T(?:(?P<hours>\d{1,9})H)?(?:(?P<minutes>\d{1,9})M)?(?:(?P<seconds>\d{1,9}(?:\.\d{1,7})?)S)?)?"
)

SESSION_DURATION_MIN = timedelta(minutes=5)
SESSION_DURATION_MAX = timedelta(hours=4)
SESSION_DURATION_DEFAULT = timedelta(minutes=5)
# Graph documents the defaults (1 day for Busy/DoNotDisturb, 7 days otherwise) but not the range of an
# explicit expirationDuration; strict reading: 5 minutes to 7 days.
PREFERRED_DURATION_MIN = timedelta(minutes=5)
PREFERRED_DURATION_MAX = timedelta(days=7)
OUT_OF_RANGE = "The provided [ExpirationDuration] is out of range"


def parse_duration(value: Any, name: str = "expirationDuration") -> timedelta:
    """An Edm.Duration as JSON carries it (an ISO 8601 string), or a 400 naming the parameter."""
    if not isinstance(value, str):
        raise bad_request(
            f"Cannot convert the value {_json_repr(value)} of '{name}' to the type 'Edm.Duration'."
        )
    match = _DURATION.fullmatch(value)
    parts = match.groupdict() if match else {}
    has_time = "T" in value
    time_parts = [parts.get("hours"), parts.get("minutes"), parts.get("seconds")]
    if not match or not (parts["days"] or any(time_parts)) or (has_time and not any(time_parts)):
        raise bad_request(
            f"Cannot convert the literal '{value}' of '{name}' to the type 'Edm.Duration': "
            "expected an ISO 8601 duration such as 'PT5M' or 'PT1H30M'."
        )
    duration = timedelta(
        days=int(parts["days"] or 0),
        hours=int(parts["hours"] or 0),
        minutes=int(parts["minutes"] or 0),
        seconds=float(parts["seconds"] or 0),
    )
    return -duration if parts["sign"] else duration


def format_duration(duration: timedelta) -> str:
    """The ISO 8601 form of a non-negative duration, e.g. PT1H30M, P7D."""
    seconds = int(duration.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not days and not time:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def session_expiration(value: Any) -> timedelta:
    """setPresence's expirationDuration: default PT5M, allowed PT5M..PT4H inclusive."""
    if value is None:
        return SESSION_DURATION_DEFAULT
    duration = parse_duration(value)
    if not SESSION_DURATION_MIN <= duration <= SESSION_DURATION_MAX:
        raise bad_request(OUT_OF_RANGE)
    return duration


def preferred_expiration(value: Any, availability: str) -> timedelta:
    """setUserPreferredPresence's expirationDuration: default 1 day (Busy, DoNotDisturb) or 7 days."""
    if value is None:
        return timedelta(days=1) if availability in {"Busy", "DoNotDisturb"} else timedelta(days=7)
    duration = parse_duration(value)
    if not PREFERRED_DURATION_MIN <= duration <= PREFERRED_DURATION_MAX:
        raise bad_request(OUT_OF_RANGE)
    return duration


# --- dateTimeTimeZone -----------------------------------------------------------------------------------

# Graph: dateTime carries no offset; the zone is in timeZone. Strict reading: a full date and time with
# seconds, up to 7 fractional digits (Graph's own format), nothing else.
_LOCAL_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?")
_OFFSET_SUFFIX = re.compile(r".*T.*(?:Z|[+-]\d{2}:?\d{2})", re.IGNORECASE)


def parse_local_datetime(value: Any) -> datetime:
    """A naive local date and time from dateTimeTimeZone.dateTime, or a 400."""
    if not isinstance(value, str):
        raise bad_request(f"expiryDateTime.dateTime must be a string, not {_json_repr(value)}.")
    if _OFFSET_SUFFIX.fullmatch(value):
        raise bad_request(
            f"expiryDateTime.dateTime '{value}' must not carry an offset; "
            "give the zone in expiryDateTime.timeZone."
        )
    match = _LOCAL_DATETIME.fullmatch(value)
    if not match:
        raise bad_request(
            f"expiryDateTime.dateTime '{value}' is not a valid date and time (yyyy-MM-ddTHH:mm:ss)."
        )
    try:
        local = datetime.fromisoformat(match.group(1))
    except ValueError:
        raise bad_request(f"expiryDateTime.dateTime '{value}' is not a valid date and time.") from None
    fraction = (match.group(2) or "").ljust(6, "0")[:6]
    return local.replace(microsecond=int(fraction))


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


def resolve_time_zone(name: Any) -> ZoneInfo:
    """A zone from dateTimeTimeZone.timeZone: "UTC", an IANA name, or a Windows name (Graph's own samples)."""
    if not isinstance(name, str) or not name:
        raise bad_request("expiryDateTime.timeZone is required with expiryDateTime.dateTime.")
    if name == "UTC":
        return ZoneInfo("UTC")
    if name in _iana_names():
        return ZoneInfo(name)
    if name in win_tz:
        return ZoneInfo(win_tz[name])
    raise bad_request(f"The time zone '{name}' is not supported.")


def expiry_instant(date_time: Any, time_zone: Any, now: datetime) -> datetime:
    """The UTC instant of a dateTimeTimeZone; a 400 if malformed, in an unknown zone or not in the future."""
    local = parse_local_datetime(date_time)
    zone = resolve_time_zone(time_zone)
    instant = local.replace(tzinfo=zone).astimezone(UTC)
    if instant <= now:
        raise bad_request("expiryDateTime must be in the future.")
    return instant


# --- ids ---------------------------------------------------------------------------------------------

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

MAX_PRESENCE_IDS = 650  # Graph: getPresencesByUserId takes at most 650 ids.
MAX_BATCH_REQUESTS = 20  # Graph: JSON batching takes at most 20 requests.


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


def check_presence_user_id(value: str) -> None:
    """Graph: presence routes take the user's object id (a GUID), never a UPN."""
    if not is_guid(value):
        raise bad_request(f"Invalid user id '{value}': presence accepts only the user's object id (a GUID).")


def same_id(a: str, b: str) -> bool:
    return a.lower() == b.lower()


# --- service principals and app role assignments ----------------------------------------------------

# The $filter forms served on /servicePrincipals: `appId eq '<id>'` (find Microsoft Graph's) and
# `displayName eq '<name>'` (find a managed identity by its app's name). An OData string literal doubles
# an embedded quote.
_SP_FILTER = re.compile(r"\s*(appId|displayName)\s+eq\s+'((?:[^']|'')*)'\s*")
_FILTER_CLAUSE = re.compile(r"\s*([A-Za-z_][\w/]*)\s+(\w+)\b.*", re.DOTALL)
SP_PROPERTIES_FOR_FILTER = (
    "id", "accountEnabled", "alternativeNames", "appDisplayName", "appId", "appOwnerOrganizationId",
    "appRoles", "displayName", "servicePrincipalNames", "servicePrincipalType", "tags",
)  # fmt: skip


def service_principal_filter(raw: str) -> tuple[str, str]:
    """(property, value) of a served $filter; Graph's 400s for a clause on another property or operator
    (Request_UnsupportedQuery), for an unknown property, and for a clause that does not parse."""
    match = _SP_FILTER.fullmatch(raw)
    if match:
        return match.group(1), match.group(2).replace("''", "'")
    clause = _FILTER_CLAUSE.fullmatch(raw)
    if clause is None:
        raise bad_request(f"Invalid filter clause: '{raw}'.")
    name, operator = clause.group(1), clause.group(2)
    if name in ("appId", "displayName") and operator == "eq":
        raise bad_request(
            f"Invalid filter clause: the value compared with {name} must be a string literal ('...')."
        )
    if name in SP_PROPERTIES_FOR_FILTER:
        # Strict reading: the emulator serves `eq` on appId and displayName only.
        raise unsupported_query(
            f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
            "'ServicePrincipal'."
        )
    raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.servicePrincipal'.")


ASSIGNMENT_WRITABLE = ("principalId", "resourceId", "appRoleId")
ASSIGNMENT_READ_ONLY = frozenset(
    {
        "id",
        "createdDateTime",
        "deletedDateTime",
        "principalDisplayName",
        "principalType",
        "resourceDisplayName",
    }
)


def check_app_role_assignment_body(body: dict[str, Any]) -> tuple[str, str, str]:
    """(principalId, resourceId, appRoleId), lower case, from a grant's body; any other property is a 400
    (strict reading for the read-only ones, which Graph sets)."""
    for key, value in body.items():
        if key == "@odata.type":
            if value not in ("#microsoft.graph.appRoleAssignment", "microsoft.graph.appRoleAssignment"):
                raise bad_request(
                    f"The body is of type 'microsoft.graph.appRoleAssignment', not {_json_repr(value)}."
                )
        elif key in ASSIGNMENT_READ_ONLY:
            raise bad_request(f"The property '{key}' is read-only and cannot be set.")
        elif key not in ASSIGNMENT_WRITABLE:
            raise bad_request(
                f"The property '{key}' does not exist on type 'microsoft.graph.appRoleAssignment'. Make sure "
                "to only use property names that are defined by the type."
            )
    ids = []
    for name in ASSIGNMENT_WRITABLE:
        value = body.get(name)
        if value is None:
            raise bad_request(f"The property '{name}' is required.")
        if not is_guid(value):
            raise bad_request(
                f"Cannot convert the literal {_json_repr(value)} of '{name}' to the type 'Edm.Guid'."
            )
        ids.append(value.lower())
    return ids[0], ids[1], ids[2]


# --- CSDL-declared action bodies --------------------------------------------------------------------


def check_action_body(action: str, body: dict[str, Any]) -> None:
    """Graph: a body parameter the action does not declare, or a value of the wrong type, is a 400."""
    declared = schema().actions[action]
    for key, value in body.items():
        member = declared.get(key)
        if member is None:
            raise bad_request(
                f"The parameter '{key}' in the request payload is not a valid parameter "
                f"for the operation '{action}'."
            )
        _check_value(schema(), value, member, key)


def _check_value(s: Schema, value: Any, member: Member, path: str) -> None:
    type_name = member.type
    if value is None:
        if not member.nullable or type_name.startswith("Collection("):
            raise bad_request(f"A null value was found for '{path}', which is not nullable.")
        return
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            raise bad_request(f"'{path}' must be a JSON array.")
        element = Member(member.name, type_name[len("Collection(") : -1], member.nullable)
        for index, item in enumerate(value):
            _check_value(s, item, element, f"{path}[{index}]")
        return
    qualified = s.qualified(type_name)
    if qualified in s.complex_types:
        _check_complex(s, value, qualified, path)
    elif qualified in s.enum_types:
        if not isinstance(value, str) or value not in s.enum_types[qualified]:
            allowed = ", ".join(sorted(s.enum_types[qualified]))
            raise bad_request(f"'{path}' must be one of: {allowed}; got {_json_repr(value)}.")
    elif type_name == "Edm.Duration":
        parse_duration(value, path)
    elif type_name == "Edm.DateTimeOffset":
        _check_datetime_offset(value, path)
    elif type_name == "Edm.Boolean":
        if not isinstance(value, bool):
            raise bad_request(
                f"Cannot convert the value {_json_repr(value)} of '{path}' to the type 'Edm.Boolean'."
            )
    elif type_name == "Edm.String":
        if not isinstance(value, str):
            raise bad_request(
                f"Cannot convert the value {_json_repr(value)} of '{path}' to the type 'Edm.String'."
            )
    else:  # pragma: no cover - the extract declares no other type
        raise NotImplementedError(type_name)


def _check_complex(s: Schema, value: Any, qualified: str, path: str) -> None:
    full_name = s.namespace + qualified[len(s.alias) :]
    if not isinstance(value, dict):
        raise bad_request(f"'{path}' must be a JSON object of type '{full_name}'.")
    properties = s.complex_types[qualified]
    for key, item in value.items():
        if key == "@odata.type":
            # An instance annotation may name the type, and then it must be the declared one.
            if not isinstance(item, str) or s.qualified(item.removeprefix("#")) != qualified:
                raise bad_request(f"'{path}' is of type '{full_name}', not {_json_repr(item)}.")
            continue
        member = properties.get(key)
        if member is None:
            raise bad_request(
                f"The property '{key}' does not exist on type '{full_name}'. Make sure to only use property "
                "names that are defined by the type."
            )
        _check_value(s, item, member, f"{path}.{key}")


def _check_datetime_offset(value: Any, path: str) -> None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise bad_request(
            f"Cannot convert the value {_json_repr(value)} of '{path}' to the type 'Edm.DateTimeOffset'."
        )


def _json_repr(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(value)
