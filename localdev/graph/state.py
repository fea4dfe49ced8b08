"""The tenant as Graph holds it: users and their presence state, groups and their members, service
principals and the app roles granted to them (app role assignments).

Pure: nothing time-based is stored as a result. Fades, expiries, the shown presence and the sequence
number are computed against the `now` each caller passes in (the emulator clock in the app, any instant
in a unit test). Inputs arrive validated (rules.py); this module only records and computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from localdev.graph.rules import FADE_TO_AWAY, FADE_TO_INACTIVE, PRECEDENCE


@dataclass(frozen=True)
class User:
    id: str  # the object id, a GUID (stored lower case)
    user_principal_name: str
    display_name: str
    mail: str | None
    proxy_addresses: tuple[str, ...] = ()  # "SMTP:primary", "smtp:alias", as Exchange writes them


@dataclass(frozen=True)
class Group:
    id: str  # the object id, a GUID (stored lower case)
    display_name: str
    members: tuple[str, ...] = ()  # the direct members' object ids (users and groups), lower case, each once


@dataclass(frozen=True)
class AppRole:
    """An app role a resource service principal defines; assigned to a service principal, it is an
    application permission (Microsoft Graph's are Presence.ReadWrite.All and the like)."""

    id: str  # a GUID (stored lower case)
    value: str  # what the roles claim carries, e.g. Presence.ReadWrite.All
    display_name: str
    description: str
    allowed_member_types: tuple[str, ...] = ("Application",)


@dataclass(frozen=True)
class ServicePrincipal:
    id: str  # the object id, a GUID (stored lower case)
    app_id: str  # the application (client) id, a GUID (stored lower case)
    display_name: str
    service_principal_type: str  # Application, ManagedIdentity, ...
    app_roles: tuple[AppRole, ...] = ()
    alternative_names: tuple[str, ...] = ()

    def app_role(self, role_id: str) -> AppRole | None:
        return next((r for r in self.app_roles if r.id == role_id.lower()), None)


@dataclass(frozen=True)
class AppRoleAssignment:
    id: str  # Graph's form: an opaque base64url string, not a GUID
    principal_id: str  # the service principal granted the role
    resource_id: str  # the service principal that defines the role
    app_role_id: str
    created_at: datetime


class SessionKind(StrEnum):
    APPLICATION = "application"  # set by an app with setPresence
    TEAMS = "teams"  # a simulated Teams client, added through the control plane


@dataclass(frozen=True)
class Shown:
    availability: str
    activity: str


OFFLINE = Shown("Offline", "Offline")


@dataclass(frozen=True)
class Session:
    session_id: str
    kind: SessionKind
    availability: str
    activity: str
    set_at: datetime
    expires_at: datetime | None  # None: until removed (Teams clients only)

    def is_live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    @property
    def fades(self) -> bool:
        # Graph: an application session at Available fades unless refreshed. A simulated Teams client
        # holds what it reports (a test models an idle client by reporting Away).
        return self.kind is SessionKind.APPLICATION and self.availability == "Available"

    @property
    def inactive_at(self) -> datetime | None:
        return self.set_at + FADE_TO_INACTIVE if self.fades else None

    @property
    def away_at(self) -> datetime | None:
        return self.set_at + FADE_TO_AWAY if self.fades else None

    def shown(self, now: datetime) -> Shown:
        if self.away_at is not None and now >= self.away_at:
            return Shown("Away", "Away")
        if self.inactive_at is not None and now >= self.inactive_at:
            return Shown("Available", "AvailableInactive")
        return Shown(self.availability, self.activity)

    def transitions(self) -> list[datetime]:
        """The instants at which what this session shows changes (fades before its end, then its end)."""
        ends = self.expires_at
        fades = [t for t in (self.inactive_at, self.away_at) if t is not None and (ends is None or t < ends)]
        return fades + ([ends] if ends is not None else [])


@dataclass(frozen=True)
class PreferredPresence:
    availability: str
    activity: str
    set_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class StatusMessage:
    content: str
    content_type: str
    published_at: datetime
    expires_at: datetime | None  # the UTC instant of expiry_date_time in expiry_time_zone
    expiry_date_time: str | None  # as the caller gave it (local, no offset)
    expiry_time_zone: str | None

    def is_live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class OutOfOffice:
    is_out_of_office: bool = False
    message: str | None = None


@dataclass(frozen=True)
class WorkLocation:
    work_location_type: str = "unspecified"
    source: str = "none"
    place_id: str | None = None


@dataclass
class PresenceRecord:
    """What is stored for one user. Read it through the functions below, never directly for a view."""

    sessions: dict[str, Session] = field(default_factory=dict)
    preferred: PreferredPresence | None = None
    status_message: StatusMessage | None = None
    out_of_office: OutOfOffice = field(default_factory=OutOfOffice)
    work_location: WorkLocation = field(default_factory=WorkLocation)
    revision: int = 0  # tenant-wide counter at the last change
    changed_at: datetime | None = None


def live_sessions(record: PresenceRecord, now: datetime) -> list[Session]:
    return [s for s in record.sessions.values() if s.is_live(now)]


def live_preferred(record: PresenceRecord, now: datetime) -> PreferredPresence | None:
    return record.preferred if record.preferred is not None and record.preferred.is_live(now) else None


def live_status_message(record: PresenceRecord, now: datetime) -> StatusMessage | None:
    message = record.status_message
    return message if message is not None and message.is_live(now) else None


def shown_presence(record: PresenceRecord, now: datetime, *, out_of_office_over_held: bool = False) -> Shown:
    """Graph's aggregation: a preferred presence wins while at least one session is live; otherwise the
    highest-precedence live session (a faded session ranks by what it shows); no session: Offline. Out of
    office shows in the activity where nothing more telling does: Available reads Available/OutOfOffice,
    no session Offline/OutOfOffice (what Teams shows). Over anything busier (a call, Do not disturb) the
    activity is kept, or with `out_of_office_over_held` replaced too (the other reading, readings.py)."""
    shown = _aggregated(record, now)
    if record.out_of_office.is_out_of_office and (
        shown.availability in ("Available", "Offline") or out_of_office_over_held
    ):
        return Shown(shown.availability, "OutOfOffice")
    return shown


def out_of_office_over_held_matters(record: PresenceRecord, now: datetime) -> bool:
    """Whether the out-of-office reading changes what this record shows now (for the journal)."""
    return shown_presence(record, now) != shown_presence(record, now, out_of_office_over_held=True)


def _aggregated(record: PresenceRecord, now: datetime) -> Shown:
    sessions = live_sessions(record, now)
    if not sessions:
        return OFFLINE
    preferred = live_preferred(record, now)
    if preferred is not None:
        return Shown(preferred.availability, preferred.activity)
    best = max(sessions, key=lambda s: (PRECEDENCE.get(s.shown(now).availability, 0), s.set_at))
    return best.shown(now)


def sequence_number(record: PresenceRecord, now: datetime, *, computed_bumps: bool = True) -> str:
    """Opaque and lexicographically sortable: the revision of the last change, then how many computed
    transitions (fades, expiries) have passed since it. Grows on every change while the clock runs forward.
    With `computed_bumps` False only a write moves it (the other reading of what Graph does, readings.py)."""
    if not computed_bumps:
        return f"{record.revision:012d}-0000"
    since = record.changed_at
    instants = [t for s in record.sessions.values() for t in s.transitions()]
    if record.preferred is not None:
        instants.append(record.preferred.expires_at)
    if record.status_message is not None and record.status_message.expires_at is not None:
        instants.append(record.status_message.expires_at)
    passed = sum(1 for t in instants if (since is None or t > since) and t <= now)
    return f"{record.revision:012d}-{passed:04d}"


class AssignmentExists(ValueError):
    """The principal already holds this app role of this resource."""


class InvalidMembers(ValueError):
    """A member that is neither a user nor a group of the tenant, or a group named as its own member."""


class Tenant:
    """The users and their presence records; groups; service principals and app role assignments. Every
    presence change bumps the tenant-wide revision."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._by_upn: dict[str, str] = {}
        self._presence: dict[str, PresenceRecord] = {}
        self._revision = 0
        self._groups: dict[str, Group] = {}
        self._service_principals: dict[str, ServicePrincipal] = {}
        self._assignments: list[AppRoleAssignment] = []

    # --- directory ---

    def _id_taken(self, object_id: str) -> bool:
        # Object ids are unique across the directory, whatever the object's type.
        return object_id in self._users or object_id in self._groups or object_id in self._service_principals

    def add_user(self, user: User) -> User:
        user = replace(user, id=user.id.lower())
        if self._id_taken(user.id):
            raise ValueError(f"a directory object with id {user.id} exists")
        if user.user_principal_name.lower() in self._by_upn:
            raise ValueError(f"a user with userPrincipalName {user.user_principal_name} exists")
        self._users[user.id] = user
        self._by_upn[user.user_principal_name.lower()] = user.id
        self._presence[user.id] = PresenceRecord()
        return user

    def users(self) -> list[User]:
        return list(self._users.values())

    def user(self, user_id: str) -> User | None:
        return self._users.get(user_id.lower())

    def find_user(self, id_or_upn: str) -> User | None:
        """By object id, or by userPrincipalName (case-insensitive), as GET /users/{id-or-upn} does."""
        return self.user(id_or_upn) or self.user(self._by_upn.get(id_or_upn.lower(), ""))

    def presence(self, user_id: str) -> PresenceRecord:
        return self._presence[user_id.lower()]

    # --- groups ---

    def add_groups(self, groups: list[Group]) -> list[Group]:
        """Add groups, all or none: ValueError when an id is taken, InvalidMembers when a member is neither a
        user nor a group (the groups being added may name each other, so nesting can be seeded at once)."""
        added = [_normalized(group) for group in groups]
        new_ids = [group.id for group in added]
        for group in added:
            if self._id_taken(group.id) or new_ids.count(group.id) > 1:
                raise ValueError(f"a directory object with id {group.id} exists")
        for group in added:
            self._check_members(group, frozenset(new_ids))
        self._groups.update((group.id, group) for group in added)
        return added

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def group(self, group_id: str) -> Group | None:
        return self._groups.get(group_id.lower())

    def set_group_members(self, group_id: str, members: list[str]) -> Group:
        """Replace a group's direct members (KeyError for an unknown group, InvalidMembers as add_groups)."""
        group = _normalized(replace(self._groups[group_id.lower()], members=tuple(members)))
        self._check_members(group, frozenset())
        self._groups[group.id] = group
        return group

    def group_members(self, group_id: str, *, transitive: bool) -> list[User | Group]:
        """A group's member users and groups, each once, ordered by object id (so paging is stable).
        Transitive: the members of nested groups too, however deep; a cycle stops where it closes, and a
        group is never listed as its own member."""
        root = self._groups[group_id.lower()]
        found: dict[str, User | Group] = {}
        pending = [root]
        while pending:
            for member_id in pending.pop().members:
                if member_id == root.id or member_id in found:
                    continue  # `found` doubles as the visited set, so a cycle cannot loop
                member = self._users.get(member_id) or self._groups.get(member_id)
                if member is None:
                    continue
                found[member_id] = member
                if transitive and isinstance(member, Group):
                    pending.append(member)
        return [found[member_id] for member_id in sorted(found)]

    def _check_members(self, group: Group, new_group_ids: frozenset[str]) -> None:
        for member_id in group.members:
            if member_id == group.id:
                raise InvalidMembers(f"the group {group.id} cannot be a member of itself")
            if not (member_id in self._users or member_id in self._groups or member_id in new_group_ids):
                raise InvalidMembers(f"no user or group has the id {member_id}")

    # --- service principals and app role assignments ---

    def add_service_principal(self, sp: ServicePrincipal) -> ServicePrincipal:
        roles = tuple(replace(r, id=r.id.lower()) for r in sp.app_roles)
        sp = replace(sp, id=sp.id.lower(), app_id=sp.app_id.lower(), app_roles=roles)
        if self._id_taken(sp.id):
            raise ValueError(f"a directory object with id {sp.id} exists")
        if any(other.app_id == sp.app_id for other in self._service_principals.values()):
            raise ValueError(f"a service principal with appId {sp.app_id} exists")
        self._service_principals[sp.id] = sp
        return sp

    def service_principals(self) -> list[ServicePrincipal]:
        return list(self._service_principals.values())

    def service_principal(self, sp_id: str) -> ServicePrincipal | None:
        return self._service_principals.get(sp_id.lower())

    def assign_app_role(self, assignment: AppRoleAssignment) -> AppRoleAssignment:
        """Record a grant; AssignmentExists when the principal already holds that role of that resource."""
        assignment = replace(
            assignment,
            principal_id=assignment.principal_id.lower(),
            resource_id=assignment.resource_id.lower(),
            app_role_id=assignment.app_role_id.lower(),
        )
        key = (assignment.principal_id, assignment.resource_id, assignment.app_role_id)
        if any((a.principal_id, a.resource_id, a.app_role_id) == key for a in self._assignments):
            raise AssignmentExists("the principal already holds this app role")
        self._assignments.append(assignment)
        return assignment

    def app_role_assignments(
        self, *, principal_id: str | None = None, resource_id: str | None = None
    ) -> list[AppRoleAssignment]:
        """Grants, oldest first: those to a principal, those of a resource, or all."""
        return [
            a
            for a in self._assignments
            if (principal_id is None or a.principal_id == principal_id.lower())
            and (resource_id is None or a.resource_id == resource_id.lower())
        ]

    # --- changes ---

    def set_session(self, user_id: str, session: Session, now: datetime) -> None:
        """Add or replace (same sessionId) a session; replacing restarts its fade and expiry."""
        record = self.presence(user_id)
        record.sessions[session.session_id.lower()] = session
        self._changed(record, now)

    def remove_session(self, user_id: str, session_id: str, now: datetime) -> bool:
        """Remove a live session; False when there is none (an expired session is already gone)."""
        record = self.presence(user_id)
        session = record.sessions.get(session_id.lower())
        if session is None or not session.is_live(now):
            return False
        del record.sessions[session_id.lower()]
        self._changed(record, now)
        return True

    def set_preferred(self, user_id: str, preferred: PreferredPresence | None, now: datetime) -> None:
        record = self.presence(user_id)
        record.preferred = preferred
        self._changed(record, now)

    def set_status_message(self, user_id: str, message: StatusMessage | None, now: datetime) -> None:
        record = self.presence(user_id)
        record.status_message = message
        self._changed(record, now)

    def set_out_of_office(self, user_id: str, settings: OutOfOffice, now: datetime) -> None:
        record = self.presence(user_id)
        record.out_of_office = settings
        self._changed(record, now)

    def set_work_location(self, user_id: str, location: WorkLocation, now: datetime) -> None:
        record = self.presence(user_id)
        record.work_location = location
        self._changed(record, now)

    def _changed(self, record: PresenceRecord, now: datetime) -> None:
        # What has expired by now is gone; drop it so the record only holds what can still show.
        record.sessions = {k: s for k, s in record.sessions.items() if s.is_live(now)}
        record.preferred = live_preferred(record, now)
        record.status_message = live_status_message(record, now)
        self._revision += 1
        record.revision = self._revision
        record.changed_at = now


def _normalized(group: Group) -> Group:
    """Ids in lower case, each member once (in the order first given)."""
    members = tuple(dict.fromkeys(member.lower() for member in group.members))
    return replace(group, id=group.id.lower(), members=members)
