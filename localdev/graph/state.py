"""The tenant as Graph holds it: users and their presence state.

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


def shown_presence(record: PresenceRecord, now: datetime) -> Shown:
    """Graph's aggregation: a preferred presence wins while at least one session is live; otherwise the
    highest-precedence live session (a faded session ranks by what it shows); no session: Offline."""
    sessions = live_sessions(record, now)
    if not sessions:
        return OFFLINE
    preferred = live_preferred(record, now)
    if preferred is not None:
        return Shown(preferred.availability, preferred.activity)
    best = max(sessions, key=lambda s: (PRECEDENCE.get(s.shown(now).availability, 0), s.set_at))
    return best.shown(now)


def sequence_number(record: PresenceRecord, now: datetime) -> str:
    """Opaque and lexicographically sortable: the revision of the last change, then how many computed
    transitions (fades, expiries) have passed since it. Grows on every change while the clock runs forward."""
    since = record.changed_at
    instants = [t for s in record.sessions.values() for t in s.transitions()]
    if record.preferred is not None:
        instants.append(record.preferred.expires_at)
    if record.status_message is not None and record.status_message.expires_at is not None:
        instants.append(record.status_message.expires_at)
    passed = sum(1 for t in instants if (since is None or t > since) and t <= now)
    return f"{record.revision:012d}-{passed:04d}"


class Tenant:
    """The users and their presence records. Every change bumps the tenant-wide revision."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._by_upn: dict[str, str] = {}
        self._presence: dict[str, PresenceRecord] = {}
        self._revision = 0

    # --- directory ---

    def add_user(self, user: User) -> User:
        user = replace(user, id=user.id.lower())
        if user.id in self._users:
            raise ValueError(f"a user with id {user.id} exists")
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
