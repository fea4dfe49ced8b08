"""The Graph routes the emulator serves under /v1.0, each a few lines: parse, validate (rules.py), change or
read the tenant (state.py), answer in Graph's shape (resources.py). Errors are raised as GraphError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localdev.graph import rules
from localdev.graph.auth import Caller, Permission
from localdev.graph.emulator import Emulator
from localdev.graph.errors import bad_request, presence_not_found, user_not_found
from localdev.graph.resources import parse_select, presence_resource, user_resource
from localdev.graph.state import PreferredPresence, Session, SessionKind, StatusMessage, User
from localdev.graph.wire import GraphRequest, GraphResponse


@dataclass(frozen=True)
class Context:
    emulator: Emulator
    request: GraphRequest
    caller: Caller
    params: dict[str, str]
    now: datetime


Handler = Callable[[Context], GraphResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: tuple[str, ...]  # literal segments, or "{name}" for a parameter
    permission: Permission
    handler: Handler
    object_id_only: bool = True  # Graph: presence routes take the user's object id, never a UPN
    query_options: frozenset[str] = frozenset()  # the OData query options the route supports


def ok(body: Any = None) -> GraphResponse:
    return GraphResponse(200, body)


# --- reads --------------------------------------------------------------------------------------------


def get_user(ctx: Context) -> GraphResponse:
    raw_select = query_options(ctx.request.query).get("select")
    select = parse_select(raw_select) if raw_select is not None else None
    user = ctx.emulator.tenant.find_user(ctx.params["user"])
    if user is None:
        raise user_not_found(ctx.params["user"])
    return ok(user_resource(user, select, ctx.request.base_url))


def get_user_presence(ctx: Context) -> GraphResponse:
    user = _presence_user(ctx)
    context = f"{ctx.request.base_url}/$metadata#users('{user.id}')/presence/$entity"
    return ok(_presence(ctx, user, context))


def get_communications_presence(ctx: Context) -> GraphResponse:
    user = _presence_user(ctx)
    return ok(_presence(ctx, user, f"{ctx.request.base_url}/$metadata#communications/presences/$entity"))


def get_presences_by_user_id(ctx: Context) -> GraphResponse:
    body = _action_body(ctx, "getPresencesByUserId")
    ids = body.get("ids")
    if ids is None:
        raise bad_request("The parameter 'ids' is required.")
    if not ids:
        raise bad_request("The parameter 'ids' must name at least one user.")
    if len(ids) > rules.MAX_PRESENCE_IDS:
        raise bad_request(f"At most {rules.MAX_PRESENCE_IDS} ids are allowed per request; got {len(ids)}.")
    for user_id in ids:
        rules.check_presence_user_id(user_id)
    # Graph: unknown ids are simply absent from the answer.
    users = [ctx.emulator.tenant.user(user_id) for user_id in dict.fromkeys(i.lower() for i in ids)]
    value = [_presence(ctx, user, None) for user in users if user is not None]
    return ok(
        {
            "@odata.context": f"{ctx.request.base_url}/$metadata#Collection(microsoft.graph.presence)",
            "value": value,
        }
    )


# --- writes -------------------------------------------------------------------------------------------


def set_presence(ctx: Context) -> GraphResponse:
    body = _action_body(ctx, "setPresence")
    session_id = _session_id(ctx, body)
    availability, activity = _required(body, "availability"), _required(body, "activity")
    rules.check_session_pair(availability, activity)
    duration = rules.session_expiration(body.get("expirationDuration"))
    user = _presence_user(ctx)
    session = Session(
        session_id, SessionKind.APPLICATION, availability, activity, ctx.now, ctx.now + duration
    )
    ctx.emulator.tenant.set_session(user.id, session, ctx.now)
    return ok()


def clear_presence(ctx: Context) -> GraphResponse:
    body = _action_body(ctx, "clearPresence")
    session_id = _session_id(ctx, body)
    user = _presence_user(ctx)
    if not ctx.emulator.tenant.remove_session(user.id, session_id, ctx.now):
        # Graph: 404 when this application holds no session for the user.
        raise presence_not_found(user.id)
    return ok()


def set_user_preferred_presence(ctx: Context) -> GraphResponse:
    body = _action_body(ctx, "setUserPreferredPresence")
    availability, activity = _required(body, "availability"), _required(body, "activity")
    rules.check_preferred_pair(availability, activity)
    duration = rules.preferred_expiration(body.get("expirationDuration"), availability)
    user = _presence_user(ctx)
    preferred = PreferredPresence(availability, activity, ctx.now, ctx.now + duration)
    ctx.emulator.tenant.set_preferred(user.id, preferred, ctx.now)
    return ok()


def clear_user_preferred_presence(ctx: Context) -> GraphResponse:
    _action_body(ctx, "clearUserPreferredPresence")
    user = _presence_user(ctx)
    ctx.emulator.tenant.set_preferred(user.id, None, ctx.now)
    return ok()


def set_status_message(ctx: Context) -> GraphResponse:
    body = _action_body(ctx, "setStatusMessage")
    message = _status_message(body.get("statusMessage"), ctx.now)
    user = _presence_user(ctx)
    ctx.emulator.tenant.set_status_message(user.id, message, ctx.now)
    return ok()


# --- helpers --------------------------------------------------------------------------------------------


def _status_message(status: dict[str, Any] | None, now: datetime) -> StatusMessage | None:
    """The message to keep, or None to clear it (Graph has no clear call: an empty content clears)."""
    if status is None:
        raise bad_request("The parameter 'statusMessage' is required.")
    if "publishedDateTime" in status:
        # Strict reading: publishedDateTime is declared but read-only; Graph sets it.
        raise bad_request("statusMessage.publishedDateTime is read-only.")
    message = status.get("message")
    if message is None or message.get("content") is None:
        raise bad_request("statusMessage.message.content is required (an empty string clears the message).")
    if message.get("contentType") != "text":
        # Graph: only plain text status messages.
        raise bad_request("statusMessage.message.contentType must be 'text'.")
    expiry = status.get("expiryDateTime")
    expires_at = None
    if expiry is not None:
        expires_at = rules.expiry_instant(expiry.get("dateTime"), expiry.get("timeZone"), now)
    if not message["content"]:
        return None
    return StatusMessage(
        content=message["content"],
        content_type="text",
        published_at=now,
        expires_at=expires_at,
        expiry_date_time=expiry["dateTime"] if expiry is not None else None,
        expiry_time_zone=expiry["timeZone"] if expiry is not None else None,
    )


def _presence_user(ctx: Context) -> User:
    user_id = ctx.params["user"]  # a GUID: the router checked it (Route.object_id_only)
    user = ctx.emulator.tenant.user(user_id)
    if user is None:
        raise user_not_found(user_id)
    return user


def _presence(ctx: Context, user: User, context: str | None) -> dict[str, Any]:
    record = ctx.emulator.tenant.presence(user.id)
    return presence_resource(
        user.id, record, ctx.now, reveal_expiry=ctx.caller.is_user(user.id), context=context
    )


def _action_body(ctx: Context, action: str) -> dict[str, Any]:
    body = ctx.request.json_body()
    rules.check_action_body(action, body)
    return body


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise bad_request(f"The parameter '{name}' is required.")
    return value


def _session_id(ctx: Context, body: dict[str, Any]) -> str:
    session_id = body.get("sessionId")
    if not session_id:
        raise bad_request("The parameter 'sessionId' is required.")
    if not rules.same_id(session_id, ctx.emulator.app_id):
        # Graph: sessionId is the application (client) id of the caller.
        raise bad_request(f"sessionId '{session_id}' must be the application id of the caller.")
    return session_id


def query_options(query: dict[str, str]) -> dict[str, str]:
    """The OData query options by bare lower-case name (Graph v1.0 takes them with or without the $)."""
    options = {key.removeprefix("$").lower(): value for key, value in query.items()}
    return {name: value for name, value in options.items() if name in _ODATA_OPTIONS}


def check_query_options(query: dict[str, str], route: Route) -> None:
    """Strict reading: presence and its actions take no OData query option, a user only $select."""
    for name in query_options(query):
        if name not in route.query_options:
            raise bad_request(f"The query option '${name}' is not supported on this resource.")


_ODATA_OPTIONS = {
    "select", "expand", "filter", "orderby", "top", "skip", "count", "search", "format", "skiptoken", "apply",
    "compute",
}  # fmt: skip

_READ, _WRITE = Permission.READ_PRESENCE, Permission.WRITE_PRESENCE
_ACTIONS: tuple[tuple[str, Handler], ...] = (
    ("setPresence", set_presence),
    ("clearPresence", clear_presence),
    ("setUserPreferredPresence", set_user_preferred_presence),
    ("clearUserPreferredPresence", clear_user_preferred_presence),
    ("setStatusMessage", set_status_message),
)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        ("users", "{user}"),
        Permission.READ_USER,
        get_user,
        object_id_only=False,  # a user is found by object id or UPN
        query_options=frozenset({"select"}),
    ),
    Route("GET", ("users", "{user}", "presence"), _READ, get_user_presence),
    Route("GET", ("communications", "presences", "{user}"), _READ, get_communications_presence),
    Route("POST", ("communications", "getPresencesByUserId"), _READ, get_presences_by_user_id),
    # The actions are bound to the presence entity, so both of its addresses take them.
    *(Route("POST", ("users", "{user}", "presence", name), _WRITE, handler) for name, handler in _ACTIONS),
    *(
        Route("POST", ("communications", "presences", "{user}", name), _WRITE, handler)
        for name, handler in _ACTIONS
    ),
)
