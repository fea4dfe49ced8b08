"""The control plane under /_emulator: users, simulated Teams sessions, groups, service principals and app
role grants, clock, faults, journal, latency, permissions, reset. JSON in and out, no auth (loopback only,
checked in app.py), never journaled."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from localdev.graph import rules
from localdev.graph.clock import iso_z
from localdev.graph.emulator import EMULATOR, Emulator
from localdev.graph.errors import GraphError, bad_request
from localdev.graph.faults import DEFAULT_RETRY_AFTER, FaultRule, RandomFaults, RetryAfterForm
from localdev.graph.handlers import new_assignment_id
from localdev.graph.readings import BatchOrder, OutOfOfficeOverHeld, UnknownPresenceIds
from localdev.graph.resources import app_role_assignment_resource
from localdev.graph.state import (
    AppRole,
    AppRoleAssignment,
    AssignmentExists,
    Group,
    InvalidMembers,
    OutOfOffice,
    ServicePrincipal,
    Session,
    SessionKind,
    User,
    WorkLocation,
    live_preferred,
    live_sessions,
    live_status_message,
    sequence_number,
    shown_presence,
)

routes = web.RouteTableDef()


# --- request bodies ---------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, strict=True, frozen=True)


class UserIn(_Body):
    id: str | None = None
    user_principal_name: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str | None = None
    mail: str | None = None
    proxy_addresses: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not rules.is_guid(value):
            raise ValueError("id must be a GUID (presence routes address users by object id)")
        return value


class UsersIn(_Body):
    users: list[UserIn] = Field(min_length=1)


class SessionIn(_Body):
    session_id: str = Field(min_length=1)
    availability: str
    activity: str
    expiration_duration: str | None = None  # ISO 8601; absent: the session lasts until removed

    @field_validator("availability")
    @classmethod
    def _availability(cls, value: str) -> str:
        if value not in rules.AVAILABILITIES:
            raise ValueError(f"availability must be one of {sorted(rules.AVAILABILITIES)}")
        return value

    @field_validator("activity")
    @classmethod
    def _activity(cls, value: str) -> str:
        if value not in rules.ACTIVITIES:
            raise ValueError(f"activity must be one of {sorted(rules.ACTIVITIES)}")
        return value


class OutOfOfficeIn(_Body):
    is_out_of_office: bool
    message: str | None = None


class WorkLocationIn(_Body):
    work_location_type: Literal["unspecified", "office", "remote", "timeOff"]
    source: Literal["none", "manual", "scheduled", "automatic"] = "manual"
    place_id: str | None = None


class UserPatchIn(_Body):
    out_of_office: OutOfOfficeIn | None = None
    work_location: WorkLocationIn | None = None


class ClockIn(_Body):
    now: AwareDatetime
    frozen: bool = False


class AdvanceIn(_Body):
    seconds: float = Field(default=0, ge=0, strict=False)
    minutes: float = Field(default=0, ge=0, strict=False)
    hours: float = Field(default=0, ge=0, strict=False)
    days: float = Field(default=0, ge=0, strict=False)


class FaultIn(_Body):
    method: str = "*"
    path: str = "*"
    status: int | None = Field(default=None, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    retry_after_form: RetryAfterForm = "seconds"
    delay_ms: int = Field(default=0, ge=0)
    code: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _does_something(self) -> FaultIn:
        if self.status is None and not self.delay_ms:
            raise ValueError("a fault needs a status, a delayMs, or both")
        return self


class RandomFaultsIn(_Body):
    rate: float = Field(ge=0, le=1, strict=False)
    seed: int
    statuses: list[int] = Field(default=[429, 503], min_length=1)
    retry_after: int = Field(default=DEFAULT_RETRY_AFTER, ge=0)
    retry_after_forms: list[RetryAfterForm] = Field(default=["seconds"], min_length=1)
    method: str = "*"
    path: str = "*"


class ReadingsIn(_Body):
    batch_order: BatchOrder | None = None
    batch_seed: int | None = None
    batch_ids_case_insensitive: bool | None = None
    sequence_on_computed_change: bool | None = None
    unknown_presence_ids: UnknownPresenceIds | None = None
    out_of_office_over_held: OutOfOfficeOverHeld | None = None


class LatencyIn(_Body):
    fixed_ms: int | None = Field(default=None, ge=0)
    min_ms: int | None = Field(default=None, ge=0)
    max_ms: int | None = Field(default=None, ge=0)
    seed: int | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LatencyIn:
        ranged = self.min_ms is not None or self.max_ms is not None
        if ranged and (self.fixed_ms is not None or self.min_ms is None or self.max_ms is None):
            raise ValueError("give fixedMs, or minMs and maxMs (and optionally seed), or nothing")
        if ranged and self.min_ms > self.max_ms:  # type: ignore[operator]
            raise ValueError("minMs must not exceed maxMs")
        return self


class BudgetIn(_Body):
    limit: int | None = Field(ge=1, le=1_000_000)


class PermissionsIn(_Body):
    roles: list[str]


def _check_guid(value: str | None) -> str | None:
    if value is not None and not rules.is_guid(value):
        raise ValueError("must be a GUID")
    return value


class AppRoleIn(_Body):
    id: str
    value: str = Field(min_length=1)
    display_name: str | None = None
    allowed_member_types: list[Literal["Application", "User"]] = Field(default=["Application"], min_length=1)

    _id = field_validator("id")(_check_guid)


class ServicePrincipalIn(_Body):
    display_name: str = Field(min_length=1)
    id: str | None = None
    app_id: str | None = None
    service_principal_type: Literal["Application", "ManagedIdentity"] = "ManagedIdentity"
    app_roles: list[AppRoleIn] = []

    _ids = field_validator("id", "app_id")(_check_guid)


class ServicePrincipalsIn(_Body):
    service_principals: list[ServicePrincipalIn] = Field(min_length=1)


def _check_guids(values: list[str]) -> list[str]:
    for value in values:
        _check_guid(value)
    return values


class GroupIn(_Body):
    display_name: str = Field(min_length=1)
    id: str | None = None
    members: list[str] = []  # object ids of users and groups (the groups seeded with it among them)

    _id = field_validator("id")(_check_guid)
    _members = field_validator("members")(_check_guids)


class GroupsIn(_Body):
    groups: list[GroupIn] = Field(min_length=1)


class MembersIn(_Body):
    members: list[str]

    _members = field_validator("members")(_check_guids)


class AppRoleAssignmentIn(_Body):
    principal_id: str
    resource_id: str
    app_role_id: str

    _ids = field_validator("principal_id", "resource_id", "app_role_id")(_check_guid)


Model = TypeVar("Model", bound=BaseModel)


async def _parse(request: web.Request, model: type[Model]) -> Model:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise bad_request(f"Invalid control-plane request: {problems}") from None


def _emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def _user(emulator: Emulator, user_id: str) -> User:
    user = emulator.tenant.user(user_id)
    if user is None:
        raise GraphError(404, "NotFound", f"No user with id '{user_id}'.")
    return user


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "mail": user.mail,
        "proxyAddresses": list(user.proxy_addresses),
    }


# --- users and sessions -------------------------------------------------------------------------------


@routes.get("/_emulator/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "appId": _emulator(request).app_id})


@routes.get("/_emulator/users")
async def list_users(request: web.Request) -> web.Response:
    return web.json_response({"value": [_user_json(u) for u in _emulator(request).tenant.users()]})


@routes.post("/_emulator/users")
async def seed_users(request: web.Request) -> web.Response:
    body = await _parse(request, UsersIn)
    tenant = _emulator(request).tenant
    created = []
    for seed in body.users:
        display_name = seed.display_name or seed.user_principal_name.split("@", 1)[0].capitalize()
        user = User(
            seed.id or str(uuid.uuid4()),
            seed.user_principal_name,
            display_name,
            seed.mail,
            tuple(seed.proxy_addresses),
        )
        try:
            created.append(tenant.add_user(user))
        except ValueError as exc:
            raise GraphError(409, "Conflict", str(exc)) from None
    return web.json_response({"value": [_user_json(u) for u in created]}, status=201)


@routes.patch("/_emulator/users/{user_id}")
async def patch_user(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    user = _user(emulator, request.match_info["user_id"])
    body = await _parse(request, UserPatchIn)
    now = emulator.clock.now()
    if body.out_of_office is not None:
        oof = OutOfOffice(body.out_of_office.is_out_of_office, body.out_of_office.message)
        emulator.tenant.set_out_of_office(user.id, oof, now)
    if body.work_location is not None:
        wl = body.work_location
        emulator.tenant.set_work_location(
            user.id, WorkLocation(wl.work_location_type, wl.source, wl.place_id), now
        )
    return web.json_response(user_state(emulator, user))


@routes.get("/_emulator/users/{user_id}/state")
async def get_user_state(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    return web.json_response(user_state(emulator, _user(emulator, request.match_info["user_id"])))


@routes.post("/_emulator/users/{user_id}/sessions")
async def add_session(request: web.Request) -> web.Response:
    """A simulated Teams client: any availability/activity, no fade, lasting until removed or expired."""
    emulator = _emulator(request)
    user = _user(emulator, request.match_info["user_id"])
    body = await _parse(request, SessionIn)
    now = emulator.clock.now()
    expires_at = None
    if body.expiration_duration is not None:
        duration = rules.parse_duration(body.expiration_duration)
        if duration <= timedelta(0):
            raise bad_request("expirationDuration must be positive.")
        expires_at = now + duration
    session = Session(body.session_id, SessionKind.TEAMS, body.availability, body.activity, now, expires_at)
    emulator.tenant.set_session(user.id, session, now)
    return web.json_response(user_state(emulator, user), status=201)


@routes.delete("/_emulator/users/{user_id}/sessions/{session_id}")
async def remove_session(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    user = _user(emulator, request.match_info["user_id"])
    if not emulator.tenant.remove_session(user.id, request.match_info["session_id"], emulator.clock.now()):
        raise GraphError(404, "NotFound", "No live session with that id.")
    return web.json_response(user_state(emulator, user))


def user_state(emulator: Emulator, user: User) -> dict[str, Any]:
    """Everything the emulator holds for a user, as it stands at the emulator's now (instants in UTC)."""
    now = emulator.clock.now()
    record = emulator.tenant.presence(user.id)
    shown = shown_presence(
        record, now, out_of_office_over_held=emulator.readings.out_of_office_over_held == "shown"
    )
    preferred = live_preferred(record, now)
    message = live_status_message(record, now)

    def at(instant: Any) -> str | None:
        return iso_z(instant) if instant is not None else None

    return {
        "user": _user_json(user),
        "now": iso_z(now),
        "availability": shown.availability,
        "activity": shown.activity,
        "sequenceNumber": sequence_number(record, now),
        "sessions": [
            {
                "sessionId": s.session_id,
                "kind": s.kind.value,
                "availability": s.availability,
                "activity": s.activity,
                "shown": {"availability": s.shown(now).availability, "activity": s.shown(now).activity},
                "setAt": at(s.set_at),
                "expiresAt": at(s.expires_at),
                "inactiveAt": at(s.inactive_at),
                "awayAt": at(s.away_at),
            }
            for s in live_sessions(record, now)
        ],
        "preferredPresence": (
            {
                "availability": preferred.availability,
                "activity": preferred.activity,
                "setAt": at(preferred.set_at),
                "expiresAt": at(preferred.expires_at),
            }
            if preferred is not None
            else None
        ),
        "statusMessage": (
            {
                "content": message.content,
                "contentType": message.content_type,
                "publishedAt": at(message.published_at),
                "expiresAt": at(message.expires_at),
                "expiryDateTime": (
                    {"dateTime": message.expiry_date_time, "timeZone": message.expiry_time_zone}
                    if message.expiry_date_time is not None
                    else None
                ),
            }
            if message is not None
            else None
        ),
        "outOfOfficeSettings": {
            "isOutOfOffice": record.out_of_office.is_out_of_office,
            "message": record.out_of_office.message,
        },
        "workLocation": {
            "workLocationType": record.work_location.work_location_type,
            "source": record.work_location.source,
            "placeId": record.work_location.place_id,
        },
    }


# --- groups ------------------------------------------------------------------------------------------------


def _group_json(group: Group) -> dict[str, Any]:
    return {"id": group.id, "displayName": group.display_name, "members": list(group.members)}


@routes.get("/_emulator/groups")
async def list_groups(request: web.Request) -> web.Response:
    return web.json_response({"value": [_group_json(g) for g in _emulator(request).tenant.groups()]})


@routes.post("/_emulator/groups")
async def seed_groups(request: web.Request) -> web.Response:
    """Add groups, all or none; their members may be users, existing groups, or each other."""
    body = await _parse(request, GroupsIn)
    groups = [
        Group(seed.id or str(uuid.uuid4()), seed.display_name, tuple(seed.members)) for seed in body.groups
    ]
    try:
        created = _emulator(request).tenant.add_groups(groups)
    except InvalidMembers as exc:
        raise bad_request(f"Invalid control-plane request: {exc}.") from None
    except ValueError as exc:
        raise GraphError(409, "Conflict", str(exc)) from None
    return web.json_response({"value": [_group_json(g) for g in created]}, status=201)


@routes.put("/_emulator/groups/{group_id}/members")
async def set_group_members(request: web.Request) -> web.Response:
    """Replace a group's direct members (a test adds or removes a member)."""
    tenant = _emulator(request).tenant
    group_id = request.match_info["group_id"]
    if tenant.group(group_id) is None:
        raise GraphError(404, "NotFound", f"No group with id '{group_id}'.")
    body = await _parse(request, MembersIn)
    try:
        group = tenant.set_group_members(group_id, body.members)
    except InvalidMembers as exc:
        raise bad_request(f"Invalid control-plane request: {exc}.") from None
    return web.json_response(_group_json(group))


# --- service principals and app role grants ------------------------------------------------------------


def _sp_json(sp: ServicePrincipal) -> dict[str, Any]:
    return {
        "id": sp.id,
        "appId": sp.app_id,
        "displayName": sp.display_name,
        "servicePrincipalType": sp.service_principal_type,
        "appRoles": [
            {"id": r.id, "value": r.value, "allowedMemberTypes": list(r.allowed_member_types)}
            for r in sp.app_roles
        ],
    }


def _assignment_json(emulator: Emulator, assignment: AppRoleAssignment) -> dict[str, Any]:
    tenant = emulator.tenant
    resource = tenant.service_principal(assignment.resource_id)
    body = app_role_assignment_resource(
        assignment, tenant.service_principal(assignment.principal_id), resource
    )
    role = resource.app_role(assignment.app_role_id) if resource is not None else None
    return {**body, "appRoleValue": role.value if role is not None else None}


@routes.get("/_emulator/servicePrincipals")
async def list_service_principals(request: web.Request) -> web.Response:
    return web.json_response(
        {"value": [_sp_json(sp) for sp in _emulator(request).tenant.service_principals()]}
    )


@routes.post("/_emulator/servicePrincipals")
async def seed_service_principals(request: web.Request) -> web.Response:
    body = await _parse(request, ServicePrincipalsIn)
    tenant = _emulator(request).tenant
    created = []
    for seed in body.service_principals:
        roles = tuple(
            AppRole(
                r.id,
                r.value,
                r.display_name or r.value,
                r.display_name or r.value,
                tuple(r.allowed_member_types),
            )
            for r in seed.app_roles
        )
        sp = ServicePrincipal(
            id=seed.id or str(uuid.uuid4()),
            app_id=seed.app_id or str(uuid.uuid4()),
            display_name=seed.display_name,
            service_principal_type=seed.service_principal_type,
            app_roles=roles,
        )
        try:
            created.append(tenant.add_service_principal(sp))
        except ValueError as exc:
            raise GraphError(409, "Conflict", str(exc)) from None
    return web.json_response({"value": [_sp_json(sp) for sp in created]}, status=201)


@routes.get("/_emulator/appRoleAssignments")
async def list_app_role_assignments(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    assignments = emulator.tenant.app_role_assignments(
        principal_id=request.query.get("principalId") or None,
        resource_id=request.query.get("resourceId") or None,
    )
    return web.json_response({"value": [_assignment_json(emulator, a) for a in assignments]})


@routes.post("/_emulator/appRoleAssignments")
async def seed_app_role_assignment(request: web.Request) -> web.Response:
    """A grant that exists before the test (made in the portal, say); not journaled."""
    emulator = _emulator(request)
    body = await _parse(request, AppRoleAssignmentIn)
    tenant = emulator.tenant
    principal, resource = (
        tenant.service_principal(body.principal_id),
        tenant.service_principal(body.resource_id),
    )
    if principal is None or resource is None:
        missing = body.principal_id if principal is None else body.resource_id
        raise GraphError(404, "NotFound", f"No service principal with id '{missing}'.")
    if resource.app_role(body.app_role_id) is None:
        raise bad_request(f"The service principal '{resource.id}' defines no app role '{body.app_role_id}'.")
    assignment_id = new_assignment_id(principal.id)
    try:
        assignment = tenant.assign_app_role(
            AppRoleAssignment(
                assignment_id, principal.id, resource.id, body.app_role_id, emulator.clock.now()
            )
        )
    except AssignmentExists as exc:
        raise GraphError(409, "Conflict", str(exc)) from None
    return web.json_response(_assignment_json(emulator, assignment), status=201)


# --- clock -------------------------------------------------------------------------------------------------


def _clock_json(emulator: Emulator) -> dict[str, Any]:
    return {"now": iso_z(emulator.clock.now()), "frozen": emulator.clock.frozen}


@routes.get("/_emulator/clock")
async def get_clock(request: web.Request) -> web.Response:
    return web.json_response(_clock_json(_emulator(request)))


@routes.put("/_emulator/clock")
async def set_clock(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, ClockIn)
    emulator.clock.set(body.now, frozen=body.frozen)
    return web.json_response(_clock_json(emulator))


@routes.post("/_emulator/clock/advance")
async def advance_clock(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, AdvanceIn)
    emulator.clock.advance(
        timedelta(days=body.days, hours=body.hours, minutes=body.minutes, seconds=body.seconds)
    )
    return web.json_response(_clock_json(emulator))


# --- faults, latency, journal, permissions, reset -------------------------------------------------------


@routes.get("/_emulator/faults")
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_emulator(request).faults.to_json())


@routes.post("/_emulator/faults")
async def add_fault(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, FaultIn)
    rule = FaultRule(
        method=body.method,
        path=body.path,
        status=body.status,
        count=body.count,
        retry_after=body.retry_after,
        delay_ms=body.delay_ms,
        code=body.code,
        message=body.message,
        retry_after_form=body.retry_after_form,
    )
    emulator.faults.add(rule)
    return web.json_response(emulator.faults.to_json(), status=201)


@routes.post("/_emulator/faults/random")
async def set_random_faults(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, RandomFaultsIn)
    emulator.faults.set_random(
        RandomFaults(
            body.rate,
            body.seed,
            tuple(body.statuses),
            body.retry_after,
            body.method,
            body.path,
            tuple(body.retry_after_forms),
        )
    )
    return web.json_response(emulator.faults.to_json(), status=201)


@routes.get("/_emulator/readings")
async def get_readings(request: web.Request) -> web.Response:
    return web.json_response(_emulator(request).readings.to_json())


@routes.put("/_emulator/readings")
async def set_readings(request: web.Request) -> web.Response:
    """Change the named switches; the others keep their value (reset restores the defaults)."""
    emulator = _emulator(request)
    body = await _parse(request, ReadingsIn)
    changes = body.model_dump(exclude_none=True)
    emulator.readings = replace(emulator.readings, **changes)
    return web.json_response(emulator.readings.to_json())


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    emulator.faults.clear()
    return web.json_response(emulator.faults.to_json())


@routes.get("/_emulator/latency")
async def get_latency(request: web.Request) -> web.Response:
    return web.json_response(_emulator(request).latency.to_json())


@routes.put("/_emulator/latency")
async def set_latency(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, LatencyIn)
    if body.min_ms is not None and body.max_ms is not None:
        emulator.latency.between(body.min_ms, body.max_ms, body.seed)
    elif body.fixed_ms:
        emulator.latency.fixed(body.fixed_ms)
    else:
        emulator.latency.off()
    return web.json_response(emulator.latency.to_json())


@routes.get("/_emulator/budget")
async def get_budget(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    return web.json_response(emulator.presence_budget.to_json(emulator.clock.now()))


@routes.put("/_emulator/budget")
async def set_budget(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, BudgetIn)
    emulator.presence_budget.set(body.limit)
    return web.json_response(emulator.presence_budget.to_json(emulator.clock.now()))


@routes.get("/_emulator/requests")
async def get_requests(request: web.Request) -> web.Response:
    entries = _emulator(request).journal.entries(
        method=request.query.get("method") or None, path=request.query.get("path") or None
    )
    return web.json_response({"value": [e.to_json() for e in entries]})


@routes.delete("/_emulator/requests")
async def clear_requests(request: web.Request) -> web.Response:
    _emulator(request).journal.clear()
    return web.json_response({"value": []})


@routes.get("/_emulator/permissions")
async def get_permissions(request: web.Request) -> web.Response:
    return web.json_response({"roles": sorted(_emulator(request).roles)})


@routes.put("/_emulator/permissions")
async def set_permissions(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    body = await _parse(request, PermissionsIn)
    emulator.roles = frozenset(body.roles)
    return web.json_response({"roles": sorted(emulator.roles)})


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    emulator.reset()
    return web.json_response(
        {"users": [_user_json(u) for u in emulator.tenant.users()], **_clock_json(emulator)}
    )
