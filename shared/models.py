"""The REST contract's shapes (api.md), as pydantic models: they validate requests, shape responses and
generate the OpenAPI description, so the three never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.presence_rules import ACTIVITIES, AVAILABILITIES, PREFERRED_PAIRS, SESSION_PAIRS

_SESSION_AVAILABILITY = {a for a, _ in SESSION_PAIRS}
_SESSION_ACTIVITY = {b for _, b in SESSION_PAIRS}
_PREFERRED_AVAILABILITY = {a for a, _ in PREFERRED_PAIRS}
_PREFERRED_ACTIVITY = {b for _, b in PREFERRED_PAIRS}


class ApiModel(BaseModel):
    """camelCase on the wire, unknown fields refused (a typo must not be silently ignored), and no lax
    coercion ("60" is not a number, "yes" is not true): a flow gets told, not guessed at."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Responses carry instants in UTC ("...Z"), whatever zone they were computed in.
UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


def summary(
    text: str,
    description: str | None = None,
    *,
    advanced: bool = False,
    enum: Iterable[str] | None = None,
    **kwargs: object,
) -> dict[str, object]:
    """Field metadata: `x-ms-summary` is what Power Automate shows as the field's label; an `advanced`
    field is behind "Show advanced options"; `enum` makes it a drop-down (the values are still checked
    by the rules in shared/presence_rules.py, which say which pairs go together)."""
    extra: dict[str, object] = {"x-ms-summary": text}
    if advanced:
        extra["x-ms-visibility"] = "advanced"
    if enum is not None:
        extra["enum"] = sorted(enum)
    return {"description": description or text, "json_schema_extra": extra, **kwargs}


class Presence(ApiModel):
    user: str = Field(**summary("User", "The user as given in the request (object id or UPN)."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    availability: str = Field(**summary("Availability", "e.g. Available, Busy, DoNotDisturb, Away, Offline."))
    activity: str = Field(**summary("Activity", "e.g. Available, InACall, InAMeeting, Presenting, OffWork."))
    status_message: str | None = Field(None, **summary("Status message"))
    status_message_expires_at: UtcDateTime | None = Field(
        None, **summary("Status message expires at", "When the status message expires (UTC), if known.")
    )
    out_of_office: bool = Field(False, **summary("Out of office"))
    out_of_office_message: str | None = Field(None, **summary("Out of office message"))
    work_location: str | None = Field(None, **summary("Work location", "office, remote, timeOff or unknown."))
    sequence_number: str | None = Field(None, **summary("Sequence number", "Graph's version stamp."))


UserList = Annotated[
    list[Annotated[str, Field(max_length=256)]],
    Field(min_length=1, max_length=10_000, **summary("Users", "Object ids or UPNs, 1 to 10,000.")),
]


class PresenceQuery(ApiModel):
    users: UserList


class UserError(ApiModel):
    user: str = Field(**summary("User"))
    status: int = Field(**summary("Status", "The HTTP status this user alone would have had."))
    code: str = Field(**summary("Code", "A stable error code such as userNotFound or invalidUser."))
    message: str = Field(**summary("Message"))


class Duplicate(ApiModel):
    """Another way the request named a user it had already named: answered once, as first given."""

    user: str = Field(**summary("User", "As given here."))
    same_as: str = Field(**summary("Same as", "The way the request first named this user."))


class PresenceQueryResult(ApiModel):
    value: list[Presence] = Field(**summary("Presences", "Each distinct user once, as first given."))
    errors: list[UserError] = Field(**summary("Errors", "Users that could not be read, each with why."))
    duplicates: list[Duplicate] = Field(
        default_factory=list,
        **summary(
            "Duplicates",
            "Other spellings of a user already named (another case, or the id of a UPN given): not read "
            "again; each names the entry that answers it.",
        ),
    )


CheckState = Literal["ok", "failed"]


class HealthChecks(ApiModel):
    storage: CheckState = Field(**summary("Storage"))
    graph: CheckState = Field(**summary("Graph"))


class Health(ApiModel):
    status: Literal["ok", "degraded"] = Field(**summary("Status"))
    checks: HealthChecks


class ProblemField(ApiModel):
    field: str = Field(**summary("Field", "The offending field or parameter, e.g. user or until."))
    message: str = Field(**summary("Message"))


class Problem(ApiModel):
    """application/problem+json (RFC 9457) with the service's stable `code`; a problem may carry more
    members (RFC 9457 extensions, e.g. health's `checks`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(**summary("Type"))
    title: str = Field(**summary("Title"))
    status: int = Field(**summary("Status", "The HTTP status."))
    detail: str = Field(**summary("Detail", "What is wrong, in a sentence."))
    code: str = Field(**summary("Code", "Stable camelCase error code, e.g. invalidUser, userNotFound."))
    errors: list[ProblemField] | None = Field(None, **summary("Errors", "One entry per offending field."))


# --- holding a presence ------------------------------------------------------------------------------

DURATION = Field(
    None,
    ge=5,
    le=30 * 24 * 60,
    **summary("Duration (minutes)", "How long to hold it, 5 minutes up to MAX_HOLD_DAYS. Not with until."),
)
UNTIL = Field(
    None,
    max_length=64,
    **summary(
        "Until",
        "When to let go: ISO 8601 with an offset, or without one plus timeZone. Not with durationMinutes.",
        advanced=True,
    ),
)
TIME_ZONE = Field(
    None,
    max_length=64,
    **summary(
        "Time zone",
        "IANA (Europe/Berlin) or Windows (W. Europe Standard Time) name for an until without offset.",
        advanced=True,
    ),
)


class HoldWindow(ApiModel):
    """How long a hold lasts: durationMinutes or until (+ timeZone); neither means 60 minutes."""

    duration_minutes: int | None = DURATION
    until: str | None = UNTIL
    time_zone: str | None = TIME_ZONE


class SessionRequest(HoldWindow):
    availability: str = Field(
        max_length=32,
        **summary("Availability", "Available, Busy, Away or DoNotDisturb.", enum=_SESSION_AVAILABILITY),
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Activity",
            "Pairs: Available/Available, Busy/InACall, Busy/InAConferenceCall, Away/Away, "
            "DoNotDisturb/Presenting.",
            enum=_SESSION_ACTIVITY,
        ),
    )


class PreferredRequest(HoldWindow):
    availability: str = Field(
        max_length=32,
        **summary(
            "Availability",
            "Available, Busy, DoNotDisturb, BeRightBack, Away or Offline.",
            enum=_PREFERRED_AVAILABILITY,
        ),
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Activity",
            "Pairs: Available/Available, Busy/Busy, DoNotDisturb/DoNotDisturb, "
            "BeRightBack/BeRightBack, Away/Away, Offline/OffWork.",
            enum=_PREFERRED_ACTIVITY,
        ),
    )
    keep_session_alive: bool = Field(
        True,
        **summary(
            "Keep session alive",
            "Also hold a session, so the presence shows while the user is signed out (a preferred presence "
            "alone shows Offline then).",
            advanced=True,
        ),
    )


class StatusMessageRequest(ApiModel):
    message: str = Field(max_length=1000, **summary("Message", "1-280 characters of plain text."))
    until: str | None = Field(
        None,
        max_length=64,
        **summary(
            "Until", "When the message expires: ISO 8601 with an offset, or without one plus timeZone."
        ),
    )
    time_zone: str | None = TIME_ZONE


class Session(ApiModel):
    user: str = Field(**summary("User"))
    user_id: str = Field(**summary("User id"))
    availability: str = Field(**summary("Availability"))
    activity: str = Field(**summary("Activity"))
    until: UtcDateTime = Field(**summary("Until", "When the service lets the session go."))
    renews_until: UtcDateTime | None = Field(
        None,
        **summary("Renews until", "Set when the hold outlasts Graph's own limit: the service renews it."),
    )
    graph_expires_at: UtcDateTime | None = Field(
        **summary("Graph expires at", "When Graph's current session would lapse.")
    )
    updated_at: UtcDateTime = Field(**summary("Updated at"))


class Preferred(Session):
    keep_session_alive: bool = Field(**summary("Keep session alive"))


class StatusMessage(ApiModel):
    user: str = Field(**summary("User"))
    user_id: str = Field(**summary("User id"))
    message: str = Field(**summary("Message"))
    until: UtcDateTime | None = Field(None, **summary("Until", "When the message expires, if it does."))
    updated_at: UtcDateTime = Field(**summary("Updated at"))


class LastError(ApiModel):
    code: str = Field(**summary("Code"))
    message: str = Field(**summary("Message"))
    at: UtcDateTime = Field(**summary("At"))


class Holds(ApiModel):
    """What the service currently holds for a user, and whether keeping it is failing."""

    user: str = Field(**summary("User"))
    user_id: str = Field(**summary("User id"))
    session: Session | None = Field(None, **summary("Session"))
    preferred: Preferred | None = Field(None, **summary("Preferred presence"))
    status_message: StatusMessage | None = Field(None, **summary("Status message"))
    last_error: LastError | None = Field(
        None, **summary("Last error", "The last Graph failure while renewing.")
    )
    attempts: int = Field(0, **summary("Attempts", "Failed attempts since the last success."))


# --- schedules -------------------------------------------------------------------------------------------


# Two models, not one pair model used twice: a flow designer shows the labels of the model a field
# refers to, so each pair says what it is (and offers only the values Graph accepts for it).
class PresencePair(ApiModel):
    """A schedule's presence: held as a session while an occurrence runs."""

    availability: str = Field(max_length=32, **summary("Presence availability", enum=_SESSION_AVAILABILITY))
    activity: str = Field(
        max_length=32,
        **summary(
            "Presence activity",
            "Pairs: Available/Available, Busy/InACall, Busy/InAConferenceCall, Away/Away, "
            "DoNotDisturb/Presenting.",
            enum=_SESSION_ACTIVITY,
        ),
    )


class PreferredPair(ApiModel):
    """A schedule's preferred presence, with a session kept alive for it."""

    availability: str = Field(
        max_length=32, **summary("Preferred availability", enum=_PREFERRED_AVAILABILITY)
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Preferred activity",
            "Pairs: Available/Available, Busy/Busy, DoNotDisturb/DoNotDisturb, BeRightBack/BeRightBack, "
            "Away/Away, Offline/OffWork.",
            enum=_PREFERRED_ACTIVITY,
        ),
    )


_WHEN = "ISO 8601 with an offset, or without one plus timeZone (e.g. 2026-11-23T09:00:00)."
ScheduleStart = Annotated[
    str, Field(max_length=64, **summary("Start", f"When the first occurrence starts: {_WHEN}"))
]
ScheduleEnd = Annotated[
    str, Field(max_length=64, **summary("End", f"When the first occurrence ends: {_WHEN}"))
]


class ScheduleFields(ApiModel):
    """What a schedule does and when; every field optional, for PATCH."""

    user: str | None = Field(None, max_length=256, **summary("User", "Object id or UPN."))
    start: ScheduleStart | None = None
    end: ScheduleEnd | None = None
    time_zone: str | None = TIME_ZONE
    recurrence: str | None = Field(
        None,
        max_length=512,
        **summary("Recurrence", "RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10 (needs timeZone)."),
    )
    status_message: str | None = Field(
        None, max_length=1000, **summary("Status message", "1-280 characters.")
    )
    presence: PresencePair | None = Field(None, **summary("Presence", "A session presence to hold."))
    preferred_presence: PreferredPair | None = Field(None, **summary("Preferred presence"))
    restore_previous: bool | None = Field(
        None,
        **summary(
            "Restore previous",
            "At the end, put back the message shown at the start (default true).",
            advanced=True,
        ),
    )


class ScheduleInput(ScheduleFields):
    user: str = Field(max_length=256, **summary("User", "Object id or UPN."))
    start: ScheduleStart
    end: ScheduleEnd


ScheduleStatus = Literal["scheduled", "active", "completed", "cancelled", "failed"]


class Schedule(ApiModel):
    id: str = Field(**summary("Schedule id"))
    user: str = Field(**summary("User"))
    user_id: str = Field(**summary("User id"))
    start: str = Field(**summary("Start", "As given."))
    end: str = Field(**summary("End", "As given."))
    time_zone: str | None = Field(None, **summary("Time zone"))
    recurrence: str | None = Field(None, **summary("Recurrence"))
    status_message: str | None = Field(None, **summary("Status message"))
    presence: PresencePair | None = Field(None, **summary("Presence"))
    preferred_presence: PreferredPair | None = Field(None, **summary("Preferred presence"))
    restore_previous: bool = Field(**summary("Restore previous"))
    status: ScheduleStatus = Field(**summary("Status", "scheduled, active, completed, cancelled or failed."))
    next_start: UtcDateTime | None = Field(None, **summary("Next start", "When the next occurrence starts."))
    next_end: UtcDateTime | None = Field(
        None, **summary("Next end", "When the current or next occurrence ends.")
    )
    created_at: UtcDateTime = Field(**summary("Created at"))
    created_by: str = Field(**summary("Created by"))
    updated_at: UtcDateTime = Field(**summary("Updated at"))
    last_error: LastError | None = Field(None, **summary("Last error"))
    attempts: int = Field(0, **summary("Attempts"))


class AuditEntry(ApiModel):
    at: UtcDateTime = Field(**summary("At"))
    caller: str = Field(
        **summary("Caller", "function-key, app:<client id>, user:<object id> or timer:<name>.")
    )
    user: str = Field(**summary("User", "The user as the caller wrote it."))
    user_id: str = Field(**summary("User id"))
    operation: str = Field(**summary("Operation", "For example session.set or schedule.start."))
    outcome: str = Field(**summary("Outcome", "ok, or the error code."))
    graph_request_id: str | None = Field(None, **summary("Graph request id"))
    schedule_id: str | None = Field(None, **summary("Schedule id"))
    watch_id: str | None = Field(None, **summary("Watch id"))


class AuditList(ApiModel):
    value: list[AuditEntry] = Field(**summary("Entries", "Newest first."))
    next_link: str | None = Field(None, **summary("Next link", "The URL of the next page, if any."))


class ScheduleList(ApiModel):
    value: list[Schedule] = Field(**summary("Schedules"))
    next_link: str | None = Field(None, **summary("Next link", "The URL of the next page, if any."))


# --- watches ---------------------------------------------------------------------------------------------

AvailabilityName = Literal[AVAILABILITIES]  # type: ignore[valid-type]  # Graph's values, a drop-down
ActivityName = Literal[ACTIVITIES]  # type: ignore[valid-type]


class WatchFilter(ApiModel):
    """Which changes are sent: the new availability and activity must each be listed (an empty or absent
    list lets any through)."""

    availability: list[AvailabilityName] | None = Field(
        None, max_length=len(AVAILABILITIES), **summary("Availability", "Only changes to one of these.")
    )
    activity: list[ActivityName] | None = Field(
        None, max_length=len(ACTIVITIES), **summary("Activity", "Only changes to one of these.")
    )


MAX_WATCH_USERS = 10_000


class WatchInput(ApiModel):
    users: list[Annotated[str, Field(max_length=256)]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_WATCH_USERS,
        **summary("Users", "Object ids or UPNs to watch, 1 to 10,000 (or give group)."),
    )
    group: str | None = Field(
        None,
        max_length=64,
        **summary("Group", "An Entra group's object id: its members are watched (or give users)."),
    )
    callback_url: str = Field(
        max_length=4096,
        description="Where each change is POSTed: https (plain http only to loopback, locally).",
        json_schema_extra={
            "x-ms-summary": "Callback URL",
            "x-ms-notification-url": True,  # Power Automate puts the flow's trigger URL here
            "x-ms-visibility": "internal",
        },
    )
    filter: WatchFilter | None = Field(None, **summary("Filter", "Only these new presences."))
    include_own_changes: bool = Field(
        False,
        **summary(
            "Include own changes",
            "Also send changes the service made itself (marked causedBy service).",
            advanced=True,
        ),
    )


WatchStatus = Literal["active", "disabled"]


class Watch(ApiModel):
    id: str = Field(**summary("Watch id"))
    users: list[str] | None = Field(None, **summary("Users", "Each distinct user once, as first given."))
    duplicates: list[Duplicate] | None = Field(
        None,
        **summary(
            "Duplicates", "Only in the answer to the create: users given again, watched once.", advanced=True
        ),
    )
    group: str | None = Field(None, **summary("Group"))
    member_count: int = Field(**summary("Members", "How many users are watched."))
    callback_url: str = Field(
        **summary("Callback URL", "Where changes go; its query (often a signature) is shown as ….")
    )
    filter: WatchFilter | None = Field(None, **summary("Filter"))
    include_own_changes: bool = Field(**summary("Include own changes"))
    status: WatchStatus = Field(
        **summary("Status", "active, or disabled once its callback failed for WATCH_DISABLE_AFTER_HOURS.")
    )
    created_at: UtcDateTime = Field(**summary("Created at"))
    created_by: str = Field(**summary("Created by"))
    delivered: int = Field(0, **summary("Delivered", "Changes delivered so far."))
    failing_since: UtcDateTime | None = Field(
        None, **summary("Failing since", "Since when every delivery failed, if they do.")
    )
    next_attempt_at: UtcDateTime | None = Field(
        None, **summary("Next attempt at", "When a failing delivery is tried again.")
    )
    last_error: LastError | None = Field(None, **summary("Last error", "The last failed delivery."))
    disabled_at: UtcDateTime | None = Field(None, **summary("Disabled at"))
    members_refreshed_at: UtcDateTime | None = Field(
        None, **summary("Members refreshed at", "A group's members, last read from Graph.")
    )
    secret: str | None = Field(
        None,
        **summary(
            "Secret",
            "Only in the answer to the create: the key of the X-Presence-Signature HMAC-SHA256.",
            advanced=True,
        ),
    )


class WatchChange(ApiModel):
    """What PATCH may change: for now, turning a disabled watch back on."""

    status: Literal["active"] = Field(
        **summary("Status", "active: deliver again (a disabled watch whose receiver is fixed).")
    )


class WatchList(ApiModel):
    value: list[Watch] = Field(**summary("Watches"))
    next_link: str | None = Field(None, **summary("Next link", "The URL of the next page, if any."))


class PresencePairSeen(ApiModel):
    availability: str = Field(**summary("Availability"))
    activity: str = Field(**summary("Activity"))


class PresenceChange(ApiModel):
    """What a watch POSTs to its callback for each change (shared/watch_rules.notification writes it)."""

    watch_id: str = Field(**summary("Watch id"))
    delivery_id: str = Field(**summary("Delivery id", "The same if this change is sent again."))
    user: str = Field(**summary("User", "As the watch names the user (UPN or object id)."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    previous: PresencePairSeen = Field(**summary("Previous presence"))
    current: PresencePairSeen = Field(**summary("Current presence"))
    changed_at: UtcDateTime = Field(**summary("Changed at", "When the service saw the change."))
    caused_by: Literal["service", "other"] = Field(
        **summary("Caused by", "service when this service made the change, other otherwise.")
    )
    schedule_id: str | None = Field(None, **summary("Schedule id", "The schedule that made it, if one did."))
