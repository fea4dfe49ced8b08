"""The catalog of the service's operations: route, method, models and words for each. The blueprints
register handlers from it and /api/openapi.json is generated from it, so the two cannot drift."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pydantic import BaseModel

from shared.api.models import (
    ActivityList,
    AuditList,
    Health,
    Holds,
    Preferred,
    PreferredRequest,
    Presence,
    PresenceChange,
    PresenceQuery,
    PresenceQueryResult,
    Schedule,
    ScheduleFields,
    ScheduleInput,
    ScheduleList,
    ScheduleStatus,
    Session,
    SessionRequest,
    StatusMessage,
    StatusMessageRequest,
    TimeZoneList,
    Watch,
    WatchChange,
    WatchInput,
    WatchList,
    picker,
)


@dataclass(frozen=True)
class Param:
    name: str
    summary: str
    description: str
    visibility: Literal["important", "advanced", "internal"] | None = None  # Power Automate's x-ms-visibility
    # Its Swagger type and what the designer makes of it: a range, a drop-down, a date picker.
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"}, hash=False, compare=False)
    required: bool = False  # a path parameter always is


# What a caller needs (shared/api/auth.py): to read users' presence and schedules, to change them, or to read
# the audit trail.
Access = Literal["read", "write", "audit"]


@dataclass(frozen=True)
class Operation:
    operation_id: str  # PascalCase: Power Automate shows it as the action's id
    method: str
    route: str  # without the /api prefix, Functions route-template syntax
    summary: str
    description: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    max_body: int = 64 * 1024
    anonymous: bool = False
    access: Access = "read"
    path_params: tuple[Param, ...] = field(default_factory=tuple)
    query_params: tuple[Param, ...] = field(default_factory=tuple)
    header_params: tuple[Param, ...] = field(default_factory=tuple)
    # Power Automate: a webhook trigger (x-ms-trigger "single") whose notifications have this shape; an
    # operation the platform calls itself is "internal" (hidden from makers).
    notification: type[BaseModel] | None = None
    visibility: Literal["internal", "advanced"] | None = None


# A list's page size (shared/http.page_size reads it) and its cursor: `after` is what nextLink carries,
# and a list that takes it is pageable in a flow (x-ms-pageable: the designer follows nextLink).
PAGE_SIZE_MIN, PAGE_SIZE_MAX, PAGE_SIZE_DEFAULT = 1, 200, 50
TOP = Param(
    "top",
    "Page size",
    f"How many to answer at once, {PAGE_SIZE_MIN} to {PAGE_SIZE_MAX} (default {PAGE_SIZE_DEFAULT}); with "
    "pagination on, a flow reads the following pages itself.",
    "advanced",
    {"type": "integer", "minimum": PAGE_SIZE_MIN, "maximum": PAGE_SIZE_MAX, "default": PAGE_SIZE_DEFAULT},
)
AFTER = Param(
    "after",
    "Page cursor",
    "Where the page starts: the cursor in the Next Link of the page before (empty: the first page).",
    "advanced",
)


USER = Param("user", "User", "The user's Entra object id (GUID) or UPN/e-mail.", "important")


def _time(name: str, summary: str, description: str) -> Param:
    return Param(name, summary, description, "advanced", {"type": "string", "format": "date-time"})


GET_PRESENCE = Operation(
    "GetPresence",
    "GET",
    "users/{user}/presence",
    "Get a user's presence",
    "Reads the user's presence from Microsoft Graph: availability, activity, status message (with its expiry "
    "when the service set it), out of office and work location.",
    "Presence",
    Presence,
    path_params=(USER,),
)
QUERY_PRESENCE = Operation(
    "QueryPresence",
    "POST",
    "presence/query",
    "Get the presence of many users",
    "Reads up to 10,000 users at once with the fewest Graph calls (650 per call). Users that cannot be read "
    "are listed in errors; the others are still answered.",
    "Presence",
    PresenceQueryResult,
    body=PresenceQuery,
    max_body=1024 * 1024,
)
HOLD_SESSION = Operation(
    "SetPresenceSession",
    "PUT",
    "users/{user}/presence/session",
    "Hold a presence for a while",
    "Shows the user as Available, Busy (in a call), Away or Do not disturb (presenting) until the given time "
    "or for a number of minutes (default 60). The service renews Graph's session, which lasts at most 4 "
    "hours and fades after 5 minutes at Available, and lets it go at the end.",
    "Presence",
    Session,
    body=SessionRequest,
    path_params=(USER,),
    access="write",
)
RELEASE_SESSION = Operation(
    "ClearPresenceSession",
    "DELETE",
    "users/{user}/presence/session",
    "Let go of a held presence",
    "Ends the service's presence session for the user now (also when there was none).",
    "Presence",
    None,
    status=204,
    path_params=(USER,),
    access="write",
)
HOLD_PREFERRED = Operation(
    "SetPreferredPresence",
    "PUT",
    "users/{user}/presence/preferred",
    "Set a preferred presence for a while",
    "Sets the presence the user would pick in Teams (wins over every session), until the given time or for "
    "a number of minutes (default 60). With Keep Session Alive (default) the service also holds a session, "
    "because a preferred presence shows Offline when the user is signed out everywhere.",
    "Presence",
    Preferred,
    body=PreferredRequest,
    path_params=(USER,),
    access="write",
)
RELEASE_PREFERRED = Operation(
    "ClearPreferredPresence",
    "DELETE",
    "users/{user}/presence/preferred",
    "Clear the preferred presence",
    "Clears the user's preferred presence now, and the session the service kept alive for it.",
    "Presence",
    None,
    status=204,
    path_params=(USER,),
    access="write",
)
SET_MESSAGE = Operation(
    "SetStatusMessage",
    "PUT",
    "users/{user}/presence/status-message",
    "Set a status message",
    "Shows a status message on the user's card in Teams, optionally until a time; the service remembers the "
    "expiry, which Graph does not show back to apps.",
    "Presence",
    StatusMessage,
    body=StatusMessageRequest,
    path_params=(USER,),
    access="write",
)
CLEAR_MESSAGE = Operation(
    "ClearStatusMessage",
    "DELETE",
    "users/{user}/presence/status-message",
    "Clear the status message",
    "Clears the user's status message now.",
    "Presence",
    None,
    status=204,
    path_params=(USER,),
    access="write",
)
GET_HOLDS = Operation(
    "GetPresenceHolds",
    "GET",
    "users/{user}/presence/holds",
    "See what the service holds for a user",
    "The session, preferred presence and status message the service holds for the user, with the last "
    "renewal failure if keeping them is failing.",
    "Presence",
    Holds,
    path_params=(USER,),
)


def _picked_id(thing: str, things: str, lister: str) -> Param:
    """A schedule's or watch's id, picked from the first page of the caller's own (the largest page)."""
    return Param(
        "id",
        thing.capitalize(),
        f"Pick one of your {things}, or give the id a {thing} was created with.",
        "important",
        {"type": "string", **picker(lister, "id", "name", fixed={"top": PAGE_SIZE_MAX})},
    )


SCHEDULE_ID = _picked_id("schedule", "schedules", "ListSchedules")
CREATE_SCHEDULE = Operation(
    "CreateSchedule",
    "POST",
    "schedules",
    "Schedule a status message or presence",
    "Starts and ends a status message, a presence and/or a preferred presence at the given times, once or "
    "recurring (an RFC 5545 RRULE in timeZone, so 09:00 stays 09:00 across daylight saving). With an "
    "Idempotency-Key, a retried request returns the schedule it already created.",
    "Schedules",
    Schedule,
    status=201,
    body=ScheduleInput,
    header_params=(
        Param(
            "Idempotency-Key",
            "Idempotency key",
            "Any unique string: a retry with the same key and body returns the same schedule (24 hours).",
            "advanced",
        ),
    ),
    access="write",
)
LIST_SCHEDULES = Operation(
    "ListSchedules",
    "GET",
    "schedules",
    "List schedules",
    "Schedules, optionally of one user and in one status, a page at a time; a signed-in user sees her own.",
    "Schedules",
    ScheduleList,
    query_params=(
        Param("user", "User", "Only this user's schedules (object id or UPN)."),
        Param(
            "status",
            "Status",
            "Only schedules in this state: scheduled, active, completed, cancelled or failed.",
            None,
            {"type": "string", "enum": list(get_args(ScheduleStatus))},
        ),
        TOP,
        AFTER,
    ),
)
GET_SCHEDULE = Operation(
    "GetSchedule",
    "GET",
    "schedules/{id}",
    "Get a schedule",
    "The schedule with its status and next occurrence; its ETag header is the If Match of a change.",
    "Schedules",
    Schedule,
    path_params=(SCHEDULE_ID,),
)
UPDATE_SCHEDULE = Operation(
    "UpdateSchedule",
    "PATCH",
    "schedules/{id}",
    "Change a schedule",
    "Changes any field of a schedule that is not running (refused while active). With If Match, only if it "
    "did not change since it was read.",
    "Schedules",
    Schedule,
    body=ScheduleFields,
    path_params=(SCHEDULE_ID,),
    header_params=(
        Param(
            "If-Match", "If match", "The ETag header of Get a schedule: change only that version.", "advanced"
        ),
    ),
    access="write",
)
CANCEL_SCHEDULE = Operation(
    "CancelSchedule",
    "DELETE",
    "schedules/{id}",
    "Cancel a schedule",
    "Cancels the schedule; a running occurrence is reverted first.",
    "Schedules",
    None,
    status=204,
    path_params=(SCHEDULE_ID,),
    access="write",
)
LIST_AUDIT = Operation(
    "ListAuditEntries",
    "GET",
    "audit",
    "List the audit trail",
    "Every change made through the API and by the timers (who, whose presence, what, the outcome and "
    "Graph's request id), newest first, a page at a time. Entries are kept 30 days unless the deployment "
    "keeps them longer.",
    "Audit",
    AuditList,
    access="audit",
    query_params=(
        Param("user", "User", "Only entries about this user (object id or UPN)."),
        _time("from", "From", "Only entries at or after this time (ISO 8601 with an offset)."),
        _time("to", "To", "Only entries at or before this time (ISO 8601 with an offset)."),
        TOP,
        AFTER,
    ),
)
WATCH_ID = _picked_id("watch", "watches", "ListWatches")
CREATE_WATCH = Operation(
    "WhenPresenceChanges",
    "POST",
    "watches",
    "When a user's presence changes",
    "This operation triggers when the availability or activity of a watched user (or of a member of an "
    "Entra group) changes, within a minute of the change. Changes the service made itself are left out "
    "unless Include Own Changes is on. Outside Power Automate, each change is sent to the callback URL, "
    "signed with the watch's secret as Standard Webhooks specify, until the watch is stopped.",
    "Watches",
    Watch,
    status=201,
    body=WatchInput,
    max_body=1024 * 1024,
    notification=PresenceChange,
)
LIST_WATCHES = Operation(
    "ListWatches",
    "GET",
    "watches",
    "List watches",
    "Watches ordered by id, a page at a time; a signed-in user sees her own.",
    "Watches",
    WatchList,
    query_params=(TOP, AFTER),
)
GET_WATCH = Operation(
    "GetWatch",
    "GET",
    "watches/{id}",
    "Get a watch",
    "The watch with its status (active, or disabled after its callback failed too long), deliveries and "
    "last delivery error.",
    "Watches",
    Watch,
    path_params=(WATCH_ID,),
)
ENABLE_WATCH = Operation(
    "UpdateWatch",
    "PATCH",
    "watches/{id}",
    "Turn a disabled watch back on",
    "With Status active, the watch delivers again, starting with one change for each user whose presence "
    "differs from what the receiver was last told; its id and secret stay.",
    "Watches",
    Watch,
    body=WatchChange,
    path_params=(WATCH_ID,),
    visibility="advanced",
)
DELETE_WATCH = Operation(
    "DeleteWatch",
    "DELETE",
    "watches/{id}",
    "Stop a watch",
    "Deletes the watch and its undelivered changes (Power Automate calls it when the flow is turned off).",
    "Watches",
    None,
    status=204,
    path_params=(WATCH_ID,),
    visibility="internal",
)
HEALTH = Operation(
    "GetHealth",
    "GET",
    "health",
    "Check the service's health",
    "Up (200) or down (503) for Table storage and Microsoft Graph, checked at most once per interval "
    "whatever the traffic. Never says which check failed, never reveals configuration.",
    "Meta",
    Health,
    anonymous=True,
)
OPENAPI = Operation(
    "GetOpenApi",
    "GET",
    "openapi.json",
    "Get this API's OpenAPI (Swagger 2.0) description",
    "The description Power Automate imports as a custom connector.",
    "Meta",
    None,
    anonymous=True,
    visibility="internal",
)
LIST_TIME_ZONES = Operation(
    "ListTimeZones",
    "GET",
    "timezones",
    "List time zones",
    "The time zones a time can be given in, for the designer's Time Zone drop-downs. It costs the service "
    "nothing, so it is also the connection test.",
    "Meta",
    TimeZoneList,
    visibility="internal",
)
LIST_ACTIVITIES = Operation(
    "ListPresenceActivities",
    "GET",
    "presence/activities",
    "List the activities that go with an availability",
    "For the designer's Activity drop-downs: only the activities Graph accepts with the availability chosen, "
    "so an impossible pair cannot be picked.",
    "Presence",
    ActivityList,
    query_params=(
        Param(
            "kind",
            "Kind",
            "session for a held presence, preferred for a preferred presence.",
            None,
            {"type": "string", "enum": ["preferred", "session"]},
            required=True,
        ),
        Param("availability", "Availability", "The availability chosen, e.g. Busy.", None, required=True),
    ),
    visibility="internal",
)
# Power Automate's "Test connection": an authenticated call that costs nothing.
TEST_CONNECTION = LIST_TIME_ZONES

CATALOG: tuple[Operation, ...] = (
    GET_PRESENCE,
    QUERY_PRESENCE,
    HOLD_SESSION,
    RELEASE_SESSION,
    HOLD_PREFERRED,
    RELEASE_PREFERRED,
    SET_MESSAGE,
    CLEAR_MESSAGE,
    GET_HOLDS,
    CREATE_SCHEDULE,
    LIST_SCHEDULES,
    GET_SCHEDULE,
    UPDATE_SCHEDULE,
    CANCEL_SCHEDULE,
    LIST_AUDIT,
    CREATE_WATCH,
    LIST_WATCHES,
    GET_WATCH,
    ENABLE_WATCH,
    DELETE_WATCH,
    HEALTH,
    OPENAPI,
    LIST_TIME_ZONES,
    LIST_ACTIVITIES,
)
