"""Reading presence: one user, or many at once with per-user errors. Turns Graph's presence into the flat
shape of api.md."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.directory import UserDirectory
from shared.errors import ServiceError
from shared.graph import GraphPresence, PresenceGateway
from shared.holding import HoldService
from shared.holds import MessageHold
from shared.models import Presence, PresenceQueryResult, UserError
from shared.users import UserRef, parse_user

log = logging.getLogger(__name__)


class PresenceReader:
    def __init__(self, directory: UserDirectory, gateway: PresenceGateway, holding: HoldService) -> None:
        self._directory = directory
        self._gateway = gateway
        self._holding = holding

    async def read(self, user: str) -> Presence:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        presence = await self._gateway.presence(user_id)
        return to_api(ref, presence, await self._recorded_messages([presence]))

    async def query(self, users: Sequence[str]) -> PresenceQueryResult:
        """Every user answered once (the first way it was given wins); a user that fails is listed in
        `errors`. When Graph throttles or fails the whole query, that is the answer (so a flow's retry
        policy applies)."""
        errors: list[UserError] = []
        refs: dict[str, UserRef] = {}
        for index, user in enumerate(users):
            try:
                ref = parse_user(user, field=f"users[{index}]")
            except ServiceError as error:
                errors.append(_user_error(user, error))
                continue
            refs.setdefault(ref.normalized, ref)
        ids = await self._directory.resolve_many(list(refs.values()))
        wanted = sorted({i for i in ids.values() if isinstance(i, str)})
        found = await self._gateway.presences(wanted) if wanted else {}
        recorded = await self._recorded_messages([p for p in found.values() if isinstance(p, GraphPresence)])
        value: list[Presence] = []
        failures: list[ServiceError] = []
        answered: set[str] = set()
        for key, ref in refs.items():
            outcome = ids[key]
            if isinstance(outcome, str):
                if outcome in answered:  # the same person given by UPN and by id: answered once
                    continue
                answered.add(outcome)
                outcome = found[outcome]
            if isinstance(outcome, GraphPresence):
                value.append(to_api(ref, outcome, recorded))
            else:
                failures.append(outcome)
                errors.append(_user_error(ref.given, outcome))
        transient = [f for f in failures if f.status in (429, 503)]
        if not value and transient and len(transient) == len(failures):
            raise transient[0]
        return PresenceQueryResult(value=value, errors=errors)

    async def _recorded_messages(self, shown: list[GraphPresence]) -> dict[str, MessageHold]:
        """Our records of the messages we set, for users whose message Graph shows without its expiry
        (Graph hides it from apps). Storage trouble only costs the expiry, never the read."""
        ids = [p.user_id for p in shown if p.status_message and p.status_message_expires_at is None]
        if not ids:
            return {}
        try:
            return await self._holding.messages(ids)
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


def _user_error(user: str, error: ServiceError) -> UserError:
    return UserError(user=user, status=error.status, code=error.code, message=error.detail)
