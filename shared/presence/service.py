"""Reading presence: one user, or many at once with per-user errors. Turns Graph's presence into the flat
shape of api.md."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.api.models import Duplicate, Presence, PresenceQueryResult, UserError
from shared.directory.ids import UserRef, parse_user
from shared.directory.service import UserDirectory
from shared.holds.rules import MessageHold
from shared.holds.service import HoldService
from shared.platform.errors import ServiceError
from shared.platform.graph import GraphPresence, PresenceGateway

log = logging.getLogger(__name__)


class PresenceReader:
    def __init__(self, directory: UserDirectory, gateway: PresenceGateway, holds: HoldService) -> None:
        self._directory = directory
        self._gateway = gateway
        self._holds = holds

    async def read(self, user: str) -> Presence:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        presence = await self._gateway.presence(user_id)
        return to_api(ref, presence, await self._recorded_messages([presence]))

    async def query(self, users: Sequence[str]) -> PresenceQueryResult:
        """Every distinct user answered once, as first given (in `value` or `errors`); another way of
        naming a user already named (another case, the id of a UPN given) is listed in `duplicates`, so
        each distinct user costs one lookup whatever the request repeats. When Graph throttles or fails
        the whole query, that is the answer (so a flow's retry policy applies)."""
        errors: list[UserError] = []
        refs, spellings = distinct_users(users, errors)
        ids = await self._directory.resolve_many(list(refs.values()))
        wanted = sorted({i for i in ids.values() if isinstance(i, str)})
        found = await self._gateway.presences(wanted) if wanted else {}
        recorded = await self._recorded_messages([p for p in found.values() if isinstance(p, GraphPresence)])
        value: list[Presence] = []
        failures: list[ServiceError] = []
        answered: dict[str, UserRef] = {}  # object id -> the entry answering it
        answering: dict[str, UserRef] = {}  # normalized -> the entry answering it
        for key, ref in refs.items():
            outcome = ids[key]
            answering[key] = ref
            if isinstance(outcome, str):
                if outcome in answered:  # the same person given by UPN and by id: answered once
                    answering[key] = answered[outcome]
                    continue
                answered[outcome] = ref
                outcome = found[outcome]
            if isinstance(outcome, GraphPresence):
                value.append(to_api(ref, outcome, recorded))
            else:
                failures.append(outcome)
                errors.append(_user_error(ref.given, outcome))
        transient = [f for f in failures if f.status in (429, 503)]
        if not value and transient and len(transient) == len(failures):
            raise transient[0]
        duplicates = [
            Duplicate(user=given, same_as=answering[key].given)
            for given, key in spellings
            if given != answering[key].given
        ]
        return PresenceQueryResult(value=value, errors=errors, duplicates=duplicates)

    async def _recorded_messages(self, shown: list[GraphPresence]) -> dict[str, MessageHold]:
        """Our records of the messages we set, for users whose message Graph shows without its expiry
        (Graph hides it from apps). Storage trouble only costs the expiry, never the read."""
        ids = [p.user_id for p in shown if p.status_message and p.status_message_expires_at is None]
        if not ids:
            return {}
        try:
            return await self._holds.messages(ids)
        except ServiceError as error:
            log.warning("status message records unavailable (%s)", error.code)
            return {}


def to_api(ref: UserRef, p: GraphPresence, recorded: dict[str, MessageHold]) -> Presence:
    expires_at = p.status_message_expires_at
    ours = recorded.get(p.user_id)
    if expires_at is None and ours is not None and ours.message == p.status_message:
        expires_at = ours.until  # only while the message shown is still the one we set
    return Presence(
        user=ref.given,
        user_id=p.user_id,
        availability=p.availability,
        activity=p.activity,
        status_message=p.status_message,
        status_message_expires_at=expires_at,
        out_of_office=p.out_of_office,
        out_of_office_message=p.out_of_office_message,
        work_location=p.work_location,
        sequence_number=p.sequence_number,
    )


def distinct_users(
    users: Sequence[str], errors: list[UserError]
) -> tuple[dict[str, UserRef], list[tuple[str, str]]]:
    """A request's users once each, by normalized id or UPN (case-insensitive), the first way given
    winning; and every distinct spelling as (spelling, normalized). An invalid user is appended to
    `errors` once, whatever its repeats."""
    refs: dict[str, UserRef] = {}
    spellings: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, user in enumerate(users):
        if user in seen:
            continue  # an exact repeat: nothing to map
        seen.add(user)
        try:
            ref = parse_user(user, field=f"users[{index}]")
        except ServiceError as error:
            errors.append(_user_error(user, error))
            continue
        refs.setdefault(ref.normalized, ref)
        spellings.append((ref.given, ref.normalized))
    return refs, spellings


def _user_error(user: str, error: ServiceError) -> UserError:
    return UserError(user=user, status=error.status, code=error.code, message=error.detail)
