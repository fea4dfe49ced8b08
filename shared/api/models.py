"""The REST contract's shapes (api.md), as pydantic models: they validate requests, shape responses and
generate the OpenAPI description, so the three never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field
from pydantic.alias_generators import to_camel

from shared.platform.errors import codes_by_status
from shared.presence.rules import (
    ACTIVITIES,
    AVAILABILITIES,
    MESSAGE_MAX_CHARS,
    PREFERRED_PAIRS,
    SESSION_PAIRS,
    PresenceKind,
    pair_name,
    readable,
)

_SESSION_AVAILABILITY = {a for a, _ in SESSION_PAIRS}
_PREFERRED_AVAILABILITY = {a for a, _ in PREFERRED_PAIRS}


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
    important: bool = False,
    enum: Iterable[str] | None = None,
    choices: dict[str, object] | None = None,
    **kwargs: object,
) -> dict[str, object]:
    """Field metadata: `x-ms-summary` is what Power Automate shows as the field's label (the generator
    writes it in Title Case); an `advanced` field is behind "Show advanced options", an `important` one
    always shown; `enum` makes it a drop-down of readable names (the values are still checked by the rules
    in shared/presence/rules.py, which say which pairs go together); `choices` (from `picker`) fills one
    from another operation. The description is omitted unless it says more than the label."""
    extra: dict[str, object] = {"x-ms-summary": text}
    if advanced:
        extra["x-ms-visibility"] = "advanced"
    if important:
        extra["x-ms-visibility"] = "important"
    if enum is not None:
        extra["enum"] = sorted(enum)
        extra["x-ms-enum-values"] = [{"value": v, "displayName": readable(v)} for v in sorted(enum)]
    if choices is not None:
        extra.update(choices)
    return {**({"description": description} if description else {}), "json_schema_extra": extra, **kwargs}


def picker(
    operation_id: str,
    value: str,
    title: str,
    *,
    fixed: dict[str, object] | None = None,
    after: str | None = None,
) -> dict[str, object]:
    """A drop-down the designer fills from the `value` list another operation answers (x-ms-dynamic-values;
    a maker may still type a value or an expression). `fixed` are literal arguments; `after` is the body
    path of the field whose choice this list depends on (body/availability), which the designer passes
    as the argument of the same name (x-ms-dynamic-list is the form that can reach into the body)."""
    literals = {name: {"value": v} for name, v in (fixed or {}).items()}
    values: dict[str, object] = {
        "operationId": operation_id,
        "value-collection": "value",
        "value-path": value,
        "value-title": title,
    }
    if not after:
        return {"x-ms-dynamic-values": {**values, **({"parameters": literals} if literals else {})}}
    name = after.rsplit("/", 1)[1]
    return {
        "x-ms-dynamic-values": {**values, "parameters": {**literals, name: {"parameter": name}}},
        "x-ms-dynamic-list": {
            "operationId": operation_id,
            "itemsPath": "value",
            "itemValuePath": value,
            "itemTitlePath": title,
            "parameters": {**literals, name: {"parameterReference": after}},
        },
    }


def activities_of(kind: PresenceKind, availability_at: str) -> dict[str, object]:
    """The activity drop-down that offers only what goes with the availability chosen at that body path."""
    return picker("ListPresenceActivities", "activity", "name", fixed={"kind": kind}, after=availability_at)


# Read by the generator: the designer offers the deployment's time zones, and a hold's longest duration
# is the deployment's MAX_HOLD_DAYS (the generator writes it as the field's maximum).
TIME_ZONES = picker("ListTimeZones", "id", "name")
HOLD_LIMIT = "x-hold-limit"
# Read by the generator: a nested object whose fields are shown with this field's label in front, where
# the same labels would otherwise appear twice in one output (a hold's parts; a change's before and after).
PREFIXED = "x-prefix-labels"


class Presence(ApiModel):
    user: str = Field(**summary("User", "The user as given in the request (object id or UPN)."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    availability: str = Field(**summary("Availability", "e.g. Available, Busy, DoNotDisturb, Away, Offline."))
    activity: str = Field(**summary("Activity", "e.g. Available, InACall, InAMeeting, Presenting, OffWork."))
    status_message: str | None = Field(
        None, **summary("Status message", "The note shown on the user's card in Teams, if any.")
    )
    status_message_expires_at: UtcDateTime | None = Field(
        None, **summary("Status message expires at", "When the status message expires (UTC), if known.")
    )
    out_of_office: bool = Field(
        False, **summary("Out of office", "True while the user's automatic replies are on.")
    )
    out_of_office_message: str | None = Field(
        None, **summary("Out of office message", "The automatic reply, while it is on.")
    )
    work_location: str | None = Field(None, **summary("Work location", "office, remote, timeOff or unknown."))
    sequence_number: str | None = Field(
        None, **summary("Sequence number", "Graph's version stamp: it changes whenever the presence does.")
    )


UserList = Annotated[
    list[Annotated[str, Field(max_length=256)]],
    Field(min_length=1, max_length=10_000, **summary("Users", "Object ids or UPNs, 1 to 10,000.")),
]


class PresenceQuery(ApiModel):
    users: UserList


class UserError(ApiModel):
    user: str = Field(**summary("User", "The user as given in the request."))
    status: int = Field(**summary("Status", "The HTTP status this user alone would have had."))
    code: str = Field(**summary("Code", "A stable error code such as userNotFound or invalidUser."))
    message: str = Field(**summary("Message", "Why this user could not be read, in a sentence."))


class Duplicate(ApiModel):
    """Another way the request named a user it had already named: answered once, as first given."""

    user: str = Field(**summary("User", "As given here."))
    same_as: str = Field(**summary("Same as", "The way the request first named this user."))


class PresenceQueryResult(ApiModel):
    value: list[Presence] = Field(
        **summary("Presences", "One presence for each distinct user that could be read, as first given.")
    )
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
    storage: CheckState = Field(**summary("Storage", "ok when the service's Table storage answers."))
    graph: CheckState = Field(**summary("Graph", "ok when Microsoft Graph answers the service."))


class Health(ApiModel):
    status: Literal["ok", "degraded"] = Field(**summary("Status", "ok when every check passes."))
    checks: HealthChecks


class ProblemField(ApiModel):
    field: str = Field(**summary("Field", "The offending field or parameter, e.g. user or until."))
    message: str = Field(**summary("Message", "What is wrong with it."))


class Problem(ApiModel):
    """An error (RFC 9457 problem details) with the service's stable code; it may carry more members,
    e.g. the health checks."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(**summary("Type", "A URN naming the kind of problem, the code included."))
    title: str = Field(**summary("Title", "The kind of problem, in a few words."))
    status: int = Field(**summary("Status", "The HTTP status."))
    detail: str = Field(**summary("Detail", "What is wrong, in a sentence."))
    code: str = Field(**summary("Code", f"Stable camelCase error code, by HTTP status: {codes_by_status()}."))
    errors: list[ProblemField] | None = Field(None, **summary("Errors", "One entry per offending field."))


# --- holding a presence ------------------------------------------------------------------------------

DURATION = Field(
    None,
    ge=5,
    le=30 * 24 * 60,  # MAX_HOLD_DAYS's own maximum; the deployment's value is checked by hold_end
    **summary(
        "Duration (minutes)",
        "How long to hold it, from 5 minutes (60 when neither this nor Until is given). Not with Until.",
        choices={HOLD_LIMIT: True},
    ),
)
UNTIL = Field(
    None,
    max_length=64,
    **summary(
        "Until",
        "When to let go: ISO 8601 with an offset, or without one plus Time Zone. Not with Duration.",
        advanced=True,
    ),
)
TIME_ZONE = Field(
    None,
    max_length=64,
    **summary(
        "Time zone",
        "The zone of a time written without an offset: a Windows name from the list (or an IANA name "
        "such as Europe/Berlin).",
        advanced=True,
        choices=TIME_ZONES,
    ),
)


class HoldWindow(ApiModel):
    """How long a hold lasts: durationMinutes or until (+ timeZone); neither means 60 minutes."""

    duration_minutes: int | None = DURATION
    until: str | None = UNTIL
    time_zone: str | None = TIME_ZONE


_SESSION_ACTIVITY_TEXT = "What the user is doing; the list offers what goes with the availability chosen."


class SessionRequest(HoldWindow):
    availability: str = Field(
        max_length=32,
        **summary(
            "Availability",
            "How the user shows in Teams while the service holds it.",
            enum=_SESSION_AVAILABILITY,
        ),
    )
    activity: str = Field(
        max_length=32,
        **summary("Activity", _SESSION_ACTIVITY_TEXT, choices=activities_of("session", "body/availability")),
    )


class PreferredRequest(HoldWindow):
    availability: str = Field(
        max_length=32,
        **summary(
            "Availability",
            'The presence the user would pick in Teams; Offline is "appear offline".',
            enum=_PREFERRED_AVAILABILITY,
        ),
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Activity",
            "Goes with the availability: the list offers the one that fits (Off work for Offline).",
            choices=activities_of("preferred", "body/availability"),
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


# A message's real limit, for the designer; the model lets longer text through to check_message, whose
# 400 invalidMessage says what is wrong.
_MESSAGE_TEXT = f"Plain text on one line, up to {MESSAGE_MAX_CHARS} characters."
_MESSAGE_LIMIT = {"maxLength": MESSAGE_MAX_CHARS}


class StatusMessageRequest(ApiModel):
    message: str = Field(max_length=1000, **summary("Message", _MESSAGE_TEXT, choices=_MESSAGE_LIMIT))
    until: str | None = Field(
        None,
        max_length=64,
        **summary(
            "Until", "When the message expires: ISO 8601 with an offset, or without one plus Time Zone."
        ),
    )
    time_zone: str | None = TIME_ZONE


_USER_AS_GIVEN = "The user as given in the request (object id or UPN)."
_USER_ID = "The user's Entra object id."


class Session(ApiModel):
    user: str = Field(**summary("User", _USER_AS_GIVEN))
    user_id: str = Field(**summary("User id", _USER_ID))
    availability: str = Field(**summary("Availability", "The availability held, e.g. Busy."))
    activity: str = Field(**summary("Activity", "The activity held, e.g. InACall."))
    until: UtcDateTime = Field(**summary("Until", "When the service lets the session go."))
    renews_until: UtcDateTime | None = Field(
        None,
        **summary("Renews until", "Set when the hold outlasts Graph's own limit: the service renews it."),
    )
    graph_expires_at: UtcDateTime | None = Field(
        **summary("Graph expires at", "When Graph's current session would lapse.")
    )
    updated_at: UtcDateTime = Field(**summary("Updated at", "When it was last set or renewed (UTC)."))


class Preferred(Session):
    keep_session_alive: bool = Field(
        **summary("Keep session alive", "True when a session is held too, so it shows while signed out.")
    )


class StatusMessage(ApiModel):
    user: str = Field(**summary("User", _USER_AS_GIVEN))
    user_id: str = Field(**summary("User id", _USER_ID))
    message: str = Field(**summary("Text", "The status message shown."))
    until: UtcDateTime | None = Field(None, **summary("Until", "When the message expires, if it does."))
    updated_at: UtcDateTime = Field(**summary("Updated at", "When it was set (UTC)."))


class LastError(ApiModel):
    code: str = Field(**summary("Code", "A stable error code, e.g. graphThrottled."))
    message: str = Field(**summary("Message", "What went wrong, in a sentence."))
    at: UtcDateTime = Field(**summary("At", "When it failed (UTC)."))


class Holds(ApiModel):
    """What the service currently holds for a user, and whether keeping it is failing."""

    user: str = Field(**summary("User", _USER_AS_GIVEN))
    user_id: str = Field(**summary("User id", _USER_ID))
    session: Session | None = Field(
        None, **summary("Session", "The presence session held, if any.", choices={PREFIXED: True})
    )
    preferred: Preferred | None = Field(
        None, **summary("Preferred", "The preferred presence held, if any.", choices={PREFIXED: True})
    )
    status_message: StatusMessage | None = Field(
        None,
        **summary("Status message", "The status message the service set, if any.", choices={PREFIXED: True}),
    )
    last_error: LastError | None = Field(
        None, **summary("Last error", "The last Graph failure while renewing.")
    )
    attempts: int = Field(0, **summary("Attempts", "Failed attempts since the last success."))


# --- schedules -------------------------------------------------------------------------------------------


# Two models, not one pair model used twice: a flow designer shows the labels of the model a field
# refers to, so each pair says what it is (and offers only the values Graph accepts for it).
class PresencePair(ApiModel):
    """A schedule's presence: held as a session while an occurrence runs."""

    availability: str = Field(
        max_length=32,
        **summary("Presence availability", "How the user shows while it runs.", enum=_SESSION_AVAILABILITY),
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Presence activity",
            _SESSION_ACTIVITY_TEXT,
            choices=activities_of("session", "body/presence/availability"),
        ),
    )


class PreferredPair(ApiModel):
    """A schedule's preferred presence, with a session kept alive for it."""

    availability: str = Field(
        max_length=32,
        **summary(
            "Preferred availability",
            "The presence the user would pick in Teams while it runs.",
            enum=_PREFERRED_AVAILABILITY,
        ),
    )
    activity: str = Field(
        max_length=32,
        **summary(
            "Preferred activity",
            "Goes with the availability: the list offers the one that fits.",
            choices=activities_of("preferred", "body/preferredPresence/availability"),
        ),
    )


_WHEN = "ISO 8601 with an offset, or without one plus Time Zone (e.g. 2026-11-23T09:00:00)."
ScheduleStart = Annotated[
    str, Field(max_length=64, **summary("Start", f"When the first occurrence starts: {_WHEN}"))
]
ScheduleEnd = Annotated[
    str, Field(max_length=64, **summary("End", f"When the first occurrence ends: {_WHEN}"))
]


class ScheduleFields(ApiModel):
    """What a schedule does and when; every field optional, for a change."""

    user: str | None = Field(None, max_length=256, **summary("User", "Object id or UPN."))
    start: ScheduleStart | None = None
    end: ScheduleEnd | None = None
    time_zone: str | None = TIME_ZONE
    recurrence: str | None = Field(
        None,
        max_length=512,
        **summary(
            "Recurrence", "RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10 (needs Time Zone)."
        ),
    )
    status_message: str | None = Field(
        None,
        max_length=1000,
        **summary("Status message", f"Shown while it runs. {_MESSAGE_TEXT}", choices=_MESSAGE_LIMIT),
    )
    presence: PresencePair | None = Field(None, **summary("Presence", "A session presence to hold."))
    preferred_presence: PreferredPair | None = Field(
        None, **summary("Preferred presence", "A preferred presence to set, with a session kept for it.")
    )
    restore_previous: bool | None = Field(
        None,
        **summary(
            "Restore previous",
            "At the end, put back the message shown at the start (default true).",
            advanced=True,
        ),
    )
    skip_when_out_of_office: bool | None = Field(
        None,
        **summary(
            "Skip when out of office",
            "Leave the user alone while out of office: an occurrence starting then is skipped "
            "(default false).",
            advanced=True,
        ),
    )


class ScheduleInput(ScheduleFields):
    user: str = Field(max_length=256, **summary("User", "Object id or UPN."))
    start: ScheduleStart
    end: ScheduleEnd


ScheduleStatus = Literal["scheduled", "active", "completed", "cancelled", "failed"]


_CREATED_BY = "Who made it: function-key, app:<client id> or user:<object id>."
_NEXT_LINK = "The URL of the next page, if any (a flow with pagination on follows it itself)."


class Schedule(ApiModel):
    id: str = Field(**summary("Schedule id", "Names the schedule in Get, Change and Cancel."))
    user: str = Field(**summary("User", "The user as given when it was made (object id or UPN)."))
    user_id: str = Field(**summary("User id", _USER_ID))
    start: str = Field(**summary("Start", "When the first occurrence starts, as given."))
    end: str = Field(**summary("End", "When the first occurrence ends, as given."))
    time_zone: str | None = Field(None, **summary("Time zone", "The zone its times and recurrence are in."))
    recurrence: str | None = Field(None, **summary("Recurrence", "The RFC 5545 RRULE, if it recurs."))
    status_message: str | None = Field(None, **summary("Status message", "Shown while it runs."))
    presence: PresencePair | None = Field(None, **summary("Presence", "Held as a session while it runs."))
    preferred_presence: PreferredPair | None = Field(
        None, **summary("Preferred presence", "Set while it runs.")
    )
    restore_previous: bool = Field(
        **summary("Restore previous", "Whether the message shown before comes back at the end.")
    )
    skip_when_out_of_office: bool = Field(
        False, **summary("Skip when out of office", "Whether an occurrence is skipped while out of office.")
    )
    status: ScheduleStatus = Field(**summary("Status", "scheduled, active, completed, cancelled or failed."))
    next_start: UtcDateTime | None = Field(None, **summary("Next start", "When the next occurrence starts."))
    next_end: UtcDateTime | None = Field(
        None, **summary("Next end", "When the current or next occurrence ends.")
    )
    created_at: UtcDateTime = Field(**summary("Created at", "When it was made (UTC)."))
    created_by: str = Field(**summary("Created by", _CREATED_BY))
    updated_at: UtcDateTime = Field(**summary("Updated at", "When it last changed (UTC)."))
    last_error: LastError | None = Field(
        None, **summary("Last error", "Why its last step failed, if one did.")
    )
    attempts: int = Field(0, **summary("Attempts", "Failed tries of its current step."))

    @computed_field(  # type: ignore[prop-decorator]
        description="What, for whom and from when, in one line: the title a schedule picker shows.",
        json_schema_extra={"x-ms-summary": "Schedule name"},
    )
    @property
    def name(self) -> str:
        shown = [f'"{self.status_message}"'] if self.status_message else []
        for pair in (self.presence, self.preferred_presence):
            if pair is not None:
                shown.append(pair_name(pair.availability, pair.activity))
        return f"{self.user}: {', '.join(shown) or 'nothing'} from {self.start} ({self.status})"


class AuditEntry(ApiModel):
    at: UtcDateTime = Field(**summary("At", "When it happened (UTC)."))
    caller: str = Field(
        **summary("Caller", "function-key, app:<client id>, user:<object id> or timer:<name>.")
    )
    user: str = Field(**summary("User", "The user as the caller wrote it."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    operation: str = Field(**summary("Operation", "For example session.set or schedule.start."))
    outcome: str = Field(**summary("Outcome", "ok, or the error code."))
    graph_request_id: str | None = Field(
        None, **summary("Graph request id", "Microsoft Graph's id of the call, for a support case.")
    )
    schedule_id: str | None = Field(None, **summary("Schedule id", "The schedule that did it, if one did."))
    watch_id: str | None = Field(None, **summary("Watch id", "The watch it concerns, if any."))


class AuditList(ApiModel):
    value: list[AuditEntry] = Field(**summary("Entries", "Newest first."))
    next_link: str | None = Field(None, **summary("Next link", _NEXT_LINK))


class ScheduleList(ApiModel):
    value: list[Schedule] = Field(**summary("Schedules", "This page's schedules, in id order."))
    next_link: str | None = Field(None, **summary("Next link", _NEXT_LINK))


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
        **summary("Users", "Object ids or UPNs to watch, 1 to 10,000 (or give Group).", important=True),
    )
    group: str | None = Field(
        None,
        max_length=64,
        **summary(
            "Group", "An Entra group's object id: its members are watched (or give Users).", important=True
        ),
    )
    callback_url: str = Field(
        max_length=4096,
        description="Where each change is sent: https (plain http only to loopback, locally).",
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
            "Also send changes the service made itself (Caused By is then service).",
            advanced=True,
        ),
    )


WatchStatus = Literal["active", "disabled"]


class Watch(ApiModel):
    id: str = Field(**summary("Watch id", "Names the watch in Get, Turn Back On and Stop."))
    users: list[str] | None = Field(None, **summary("Users", "Each distinct user once, as first given."))
    duplicates: list[Duplicate] | None = Field(
        None,
        **summary(
            "Duplicates", "Only in the answer to the create: users given again, watched once.", advanced=True
        ),
    )
    group: str | None = Field(None, **summary("Group", "The group whose members are watched, if one is."))
    member_count: int = Field(**summary("Members", "How many users are watched."))
    callback_url: str = Field(
        **summary("Callback URL", "Where changes go; its query (often a signature) is shown as ….")
    )
    filter: WatchFilter | None = Field(None, **summary("Filter", "Only changes to these presences are sent."))
    include_own_changes: bool = Field(
        **summary("Include own changes", "Whether changes the service made itself are sent too.")
    )
    status: WatchStatus = Field(
        **summary("Status", "active, or disabled once its callback kept failing for a day (by default).")
    )
    created_at: UtcDateTime = Field(**summary("Created at", "When it was made (UTC)."))
    created_by: str = Field(**summary("Created by", _CREATED_BY))
    delivered: int = Field(0, **summary("Delivered", "Changes delivered so far."))
    failing_since: UtcDateTime | None = Field(
        None, **summary("Failing since", "Since when every delivery failed, if they do.")
    )
    next_attempt_at: UtcDateTime | None = Field(
        None, **summary("Next attempt at", "When a failing delivery is tried again.")
    )
    last_error: LastError | None = Field(None, **summary("Last error", "The last failed delivery."))
    disabled_at: UtcDateTime | None = Field(
        None, **summary("Disabled at", "When it was turned off, if it is.")
    )
    members_refreshed_at: UtcDateTime | None = Field(
        None, **summary("Members refreshed at", "A group's members, last read from Graph.")
    )
    secret: str | None = Field(
        None,
        **summary(
            "Secret",
            "Only in the answer to the create: the signing secret (whsec_...) that verifies each change "
            "sent to the callback, as Standard Webhooks specify.",
            advanced=True,
        ),
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="Whom it watches and its status, in one line: the title a watch picker shows.",
        json_schema_extra={"x-ms-summary": "Watch name"},
    )
    @property
    def name(self) -> str:
        if self.group is not None:
            whom = f"group {self.group}"
        else:
            users = self.users or []
            whom = ", ".join(users[:3]) + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        return f"{whom} ({self.status})"


class WatchChange(ApiModel):
    """What a change to a watch may say: for now, turn a disabled watch back on."""

    status: Literal["active"] = Field(
        **summary("Status", "active: deliver again (a disabled watch whose receiver is fixed).")
    )


class WatchList(ApiModel):
    value: list[Watch] = Field(**summary("Watches", "This page's watches, in id order."))
    next_link: str | None = Field(None, **summary("Next link", _NEXT_LINK))


class PresencePairSeen(ApiModel):
    availability: str = Field(**summary("Availability", "Graph's availability, e.g. Busy."))
    activity: str = Field(**summary("Activity", "Graph's activity, e.g. InAMeeting."))


# shared.watches.rules.notification writes it.
class PresenceChange(ApiModel):
    """What a watch sends to its callback for each change of a watched user's presence."""

    watch_id: str = Field(**summary("Watch id", "The watch that saw the change."))
    delivery_id: str = Field(
        **summary("Delivery id", "The same if this change is sent again (also the webhook-id header).")
    )
    user: str = Field(**summary("User", "As the watch names the user (UPN or object id)."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    previous: PresencePairSeen = Field(
        **summary("Previous", "The presence before the change.", choices={PREFIXED: True})
    )
    current: PresencePairSeen = Field(
        **summary("Current", "The presence after the change.", choices={PREFIXED: True})
    )
    changed_at: UtcDateTime = Field(**summary("Changed at", "When the service saw the change."))
    caused_by: Literal["service", "other"] = Field(
        **summary("Caused by", "service when this service made the change, other otherwise.")
    )
    schedule_id: str | None = Field(None, **summary("Schedule id", "The schedule that made it, if one did."))


# --- the designer's drop-downs ---------------------------------------------------------------------------


class TimeZoneChoice(ApiModel):
    id: str = Field(**summary("Time zone", "The Windows name, e.g. W. Europe Standard Time."))
    name: str = Field(**summary("Name", "The Windows name with its IANA zone, as the list shows it."))


class TimeZoneList(ApiModel):
    value: list[TimeZoneChoice] = Field(**summary("Time zones", "Every zone the service accepts by name."))


class ActivityChoice(ApiModel):
    activity: str = Field(**summary("Activity", "Graph's value, e.g. InACall."))
    name: str = Field(**summary("Name", "As a maker reads it, e.g. In a call."))


class ActivityList(ApiModel):
    value: list[ActivityChoice] = Field(
        **summary("Activities", "The activities that can be set with the availability given.")
    )
