"""The Graph routes the emulator serves under /v1.0, each a few lines: parse, validate (rules.py), change or
read the tenant (state.py), answer in Graph's shape (resources.py). Errors are raised as GraphError."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from localdev.graph import paging, rules
from localdev.graph.auth import Caller, Permission
from localdev.graph.emulator import Emulator
from localdev.graph.errors import (
    app_role_assignment_exists,
    app_role_not_found,
    bad_request,
    count_not_supported,
    directory_object_not_found,
    invalid_object_id,
    presence_ids_not_found,
    presence_not_found,
    user_not_found,
)
from localdev.graph.resources import (
    app_role_assignment_resource,
    collection_context,
    member_resource,
    parse_directory_object_select,
    parse_select,
    parse_sp_select,
    presence_resource,
    service_principal_resource,
    service_principals_context,
    user_resource,
)
from localdev.graph.state import (
    AppRoleAssignment,
    AssignmentExists,
    Group,
    PreferredPresence,
    ServicePrincipal,
    Session,
    SessionKind,
    StatusMessage,
    User,
    out_of_office_over_held_matters,
    sequence_number,
)
from localdev.graph.wire import GraphRequest, GraphResponse


@dataclass(frozen=True)
class Context:
    emulator: Emulator
    request: GraphRequest
    caller: Caller
    params: dict[str, str]
    now: datetime


Handler = Callable[[Context], GraphResponse]
D = TypeVar("D")


@dataclass(frozen=True)
class Route:
    method: str
    template: tuple[str, ...]  # literal segments, or "{name}" for a parameter
    permission: Permission
    handler: Handler
    object_id_only: bool = True  # Graph: presence routes take the user's object id, never a UPN
    query_options: frozenset[str] = frozenset()  # the OData query options the route supports
    also_requires: tuple[Permission, ...] = ()  # further permissions needed as well as `permission`


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
    # Graph leaves unknown ids out of the answer, as far as anyone has seen; the "error" reading fails the
    # whole call instead (readings.py; the 404's shape is a guess, Graph documents none).
    unique_ids = list(dict.fromkeys(i.lower() for i in ids))
    users = [ctx.emulator.tenant.user(user_id) for user_id in unique_ids]
    readings = ctx.emulator.readings
    unknown = [i for i, user in zip(unique_ids, users, strict=True) if user is None]
    if unknown:
        readings.note("unknownPresenceIds", readings.unknown_presence_ids)
        if readings.unknown_presence_ids == "error":
            raise presence_ids_not_found(unknown)
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


# --- groups -------------------------------------------------------------------------------------------------


def list_members(ctx: Context) -> GraphResponse:
    return _group_members(ctx, "members", users_only=False)


def list_member_users(ctx: Context) -> GraphResponse:
    return _group_members(ctx, "members", users_only=True)


def list_transitive_members(ctx: Context) -> GraphResponse:
    return _group_members(ctx, "transitiveMembers", users_only=False)


def list_transitive_member_users(ctx: Context) -> GraphResponse:
    return _group_members(ctx, "transitiveMembers", users_only=True)


def _group_members(ctx: Context, relation: str, *, users_only: bool) -> GraphResponse:
    """A group's (transitive) members, one page of them, ordered by object id. The microsoft.graph.user cast
    keeps the users only (a collection of users); without it nested groups are listed too."""
    options = query_options(ctx.request.query)
    select = _member_select(options.get("select"), users_only)
    size = paging.page_size(options.get("top"))
    with_count = _count_requested(ctx, options.get("count"))
    group = _group(ctx)
    # What a skip token is issued for: another group's, relation's or cast's token is refused.
    collection = f"{group.id}/{relation}" + ("/user" if users_only else "")
    skiptoken = options.get("skiptoken")
    after = ctx.emulator.skip_tokens.read(skiptoken, collection) if skiptoken is not None else None

    members = ctx.emulator.tenant.group_members(group.id, transitive=relation == "transitiveMembers")
    if users_only:
        members = [m for m in members if isinstance(m, User)]
    shown, more = paging.page(members, after, size)
    entity_set = "users" if users_only else "directoryObjects"
    body: dict[str, Any] = {"@odata.context": collection_context(ctx.request.base_url, entity_set, select)}
    if with_count:
        body["@odata.count"] = len(members)
    if more:
        token = ctx.emulator.skip_tokens.issue(collection, shown[-1].id)
        request = ctx.request
        body["@odata.nextLink"] = paging.next_link(request.base_url, request.path, request.query, token)
    # Graph: without a role that reads users, each member user is its type and id only.
    readable = bool(ctx.emulator.roles & Permission.READ_USER.value)
    body["value"] = [member_resource(m, select, readable=readable) for m in shown]
    return ok(body)


def _member_select(raw: str | None, users_only: bool) -> list[str] | None:
    """$select on users (with the cast), or on directory objects (a user's or a group's properties)."""
    if raw is None:
        return None
    return parse_select(raw) if users_only else parse_directory_object_select(raw)


def _group(ctx: Context) -> Group:
    return _directory_object(ctx.params["group"], ctx.emulator.tenant.group)


def _count_requested(ctx: Context, raw: str | None) -> bool:
    """$count=true adds @odata.count. Graph serves it only as an advanced query (ConsistencyLevel: eventual)
    and ignores it otherwise; strict reading: refused otherwise, so no caller counts on a count Graph
    would not send."""
    if raw is None:
        return False
    if ctx.request.headers.get("ConsistencyLevel", "").lower() != "eventual":
        raise count_not_supported()
    if raw not in ("true", "false"):
        raise bad_request(f"The value '{raw}' is not valid for $count; use true or false.")
    return raw == "true"


# --- service principals and app role assignments ---------------------------------------------------------


def list_service_principals(ctx: Context) -> GraphResponse:
    options = query_options(ctx.request.query)
    select = parse_sp_select(options["select"]) if "select" in options else None
    found = ctx.emulator.tenant.service_principals()
    if "filter" in options:
        name, value = rules.service_principal_filter(options["filter"])
        # Directory string comparisons ignore case.
        attribute = {"appId": "app_id", "displayName": "display_name"}[name]
        found = [sp for sp in found if getattr(sp, attribute).lower() == value.lower()]
    return ok(
        {
            "@odata.context": service_principals_context(ctx.request.base_url, select, entity=False),
            "value": [service_principal_resource(sp, select) for sp in found],
        }
    )


def get_service_principal(ctx: Context) -> GraphResponse:
    raw_select = query_options(ctx.request.query).get("select")
    select = parse_sp_select(raw_select) if raw_select is not None else None
    sp = _service_principal(ctx)
    context = service_principals_context(ctx.request.base_url, select, entity=True)
    return ok({"@odata.context": context, **service_principal_resource(sp, select)})


def list_app_role_assigned_to(ctx: Context) -> GraphResponse:
    """The grants of the resource's app roles (for Microsoft Graph's: every application permission)."""
    resource = _service_principal(ctx)
    assignments = ctx.emulator.tenant.app_role_assignments(resource_id=resource.id)
    return _assignments(ctx, resource, "appRoleAssignedTo", assignments)


def list_app_role_assignments(ctx: Context) -> GraphResponse:
    """The app roles granted to this service principal, whatever their resource."""
    principal = _service_principal(ctx)
    assignments = ctx.emulator.tenant.app_role_assignments(principal_id=principal.id)
    return _assignments(ctx, principal, "appRoleAssignments", assignments)


def grant_app_role(ctx: Context) -> GraphResponse:
    """POST /servicePrincipals/{resource}/appRoleAssignedTo: grant one of the resource's app roles."""
    resource = _service_principal(ctx)
    principal_id, resource_id, app_role_id = rules.check_app_role_assignment_body(ctx.request.json_body())
    if resource_id != resource.id:
        # Strict reading: the body names the same resource as the URL.
        raise bad_request(f"resourceId '{resource_id}' must be the service principal in the request URL.")
    tenant = ctx.emulator.tenant
    principal = tenant.service_principal(principal_id)
    if principal is None:
        if tenant.user(principal_id) is not None:
            raise bad_request("The emulator grants app roles to service principals only.")
        raise directory_object_not_found(principal_id)
    role = resource.app_role(app_role_id)
    if role is None or "Application" not in role.allowed_member_types:
        raise app_role_not_found(resource.app_id)
    try:
        assignment = tenant.assign_app_role(
            AppRoleAssignment(new_assignment_id(principal.id), principal.id, resource.id, role.id, ctx.now)
        )
    except AssignmentExists:
        raise app_role_assignment_exists() from None
    context = f"{ctx.request.base_url}/$metadata#servicePrincipals('{resource.id}')/appRoleAssignedTo/$entity"
    body = app_role_assignment_resource(assignment, principal, resource)
    return GraphResponse(201, {"@odata.context": context, **body})


def _service_principal(ctx: Context) -> ServicePrincipal:
    return _directory_object(ctx.params["sp"], ctx.emulator.tenant.service_principal)


def _directory_object(object_id: str, find: Callable[[str], D | None]) -> D:
    """A directory object addressed by id, as Graph answers: 400 for an id that is not a GUID, 404 for
    one the tenant does not have."""
    if not rules.is_guid(object_id):
        raise invalid_object_id(object_id)
    found = find(object_id)
    if found is None:
        raise directory_object_not_found(object_id)
    return found


def _assignments(
    ctx: Context, sp: ServicePrincipal, relation: str, assignments: list[AppRoleAssignment]
) -> GraphResponse:
    tenant = ctx.emulator.tenant
    value = [
        app_role_assignment_resource(
            a, tenant.service_principal(a.principal_id), tenant.service_principal(a.resource_id)
        )
        for a in assignments
    ]
    context = f"{ctx.request.base_url}/$metadata#servicePrincipals('{sp.id}')/{relation}"
    return ok({"@odata.context": context, "value": value})


def new_assignment_id(principal_id: str) -> str:
    """Graph's form: 43 base64url characters, starting with the principal's object id (little-endian)."""
    raw = uuid.UUID(principal_id).bytes_le + uuid.uuid4().bytes
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


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
    readings = ctx.emulator.readings
    if sequence_number(record, ctx.now) != sequence_number(record, ctx.now, computed_bumps=False):
        readings.note("sequenceOnComputedChange", readings.sequence_on_computed_change)  # it mattered
    if out_of_office_over_held_matters(record, ctx.now):
        readings.note("outOfOfficeOverHeld", readings.out_of_office_over_held)
    return presence_resource(
        user.id,
        record,
        ctx.now,
        reveal_expiry=ctx.caller.is_user(user.id),
        context=context,
        computed_bumps=readings.sequence_on_computed_change,
        out_of_office_over_held=readings.out_of_office_over_held == "shown",
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
    """Strict reading: presence and its actions take no OData query option, a user only $select; each route
    says which it takes."""
    for name in query_options(query):
        if name not in route.query_options:
            raise bad_request(f"The query option '${name}' is not supported on this resource.")


_ODATA_OPTIONS = {
    "select", "expand", "filter", "orderby", "top", "skip", "count", "search", "format", "skiptoken", "apply",
    "compute",
}  # fmt: skip

_READ, _WRITE = Permission.READ_PRESENCE, Permission.WRITE_PRESENCE
_READ_APPS = Permission.READ_APPLICATIONS
_MEMBER_OPTIONS = frozenset({"select", "top", "skiptoken", "count"})
# (relation, handler without the cast, handler with the microsoft.graph.user cast)
_MEMBER_RELATIONS: tuple[tuple[str, Handler, Handler], ...] = (
    ("members", list_members, list_member_users),
    ("transitiveMembers", list_transitive_members, list_transitive_member_users),
)
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
    # Service principals and app role assignments (the permission grant script's surface).
    Route(
        "GET",
        ("servicePrincipals",),
        _READ_APPS,
        list_service_principals,
        object_id_only=False,
        query_options=frozenset({"filter", "select"}),
    ),
    Route(
        "GET",
        ("servicePrincipals", "{sp}"),
        _READ_APPS,
        get_service_principal,
        object_id_only=False,
        query_options=frozenset({"select"}),
    ),
    Route(
        "GET",
        ("servicePrincipals", "{sp}", "appRoleAssignedTo"),
        _READ_APPS,
        list_app_role_assigned_to,
        object_id_only=False,
    ),
    Route(
        "POST",
        ("servicePrincipals", "{sp}", "appRoleAssignedTo"),
        Permission.WRITE_APP_ROLE_ASSIGNMENTS,
        grant_app_role,
        object_id_only=False,
        also_requires=(_READ_APPS,),  # Graph: AppRoleAssignment.ReadWrite.All and Application.Read.All
    ),
    Route(
        "GET",
        ("servicePrincipals", "{sp}", "appRoleAssignments"),
        _READ_APPS,
        list_app_role_assignments,
        object_id_only=False,
    ),
    # A group's members (group watches expand a group into its member users).
    *(
        Route(
            "GET",
            ("groups", "{group}", relation),
            Permission.READ_GROUP_MEMBERS,
            handler,
            object_id_only=False,
            query_options=_MEMBER_OPTIONS,
        )
        for relation, handler, _ in _MEMBER_RELATIONS
    ),
    *(
        Route(
            "GET",
            ("groups", "{group}", relation, "microsoft.graph.user"),  # the cast, also as graph.user
            Permission.READ_GROUP_MEMBERS,
            handler,
            object_id_only=False,
            query_options=_MEMBER_OPTIONS,
        )
        for relation, _, handler in _MEMBER_RELATIONS
    ),
)
