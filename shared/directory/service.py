"""Turning what callers write (object ids, UPNs or e-mail addresses) into object ids: the cache in
Table storage first, Graph for the rest."""

# One UPN is a direct GET, more go in `$batch` calls of 20. An address that is no UPN is looked up again
# by `mail` and `proxyAddresses` (in `$batch` calls of 20 too); one that two users have is `ambiguousUser`.
# One Graph knows under none of these is `userNotFound`, and cached as such for a few minutes only
# (USER_CACHE_MISS_MINUTES: the user may be created): repeating unknown addresses costs Graph nothing
# meanwhile.

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from shared.directory.ids import UserRef
from shared.directory.store import UserCache
from shared.platform.clock import Clock
from shared.platform.errors import USER_NOT_FOUND, ServiceError, user_not_found
from shared.platform.graph import PresenceGateway

log = logging.getLogger(__name__)


class UserDirectory:
    def __init__(
        self,
        gateway: PresenceGateway,
        cache: UserCache,
        clock: Clock,
        ttl: timedelta,
        miss_ttl: timedelta = timedelta(0),
    ) -> None:
        self._gateway = gateway
        self._cache = cache
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl

    async def resolve(self, ref: UserRef) -> str:
        result = (await self.resolve_many([ref]))[ref.normalized]
        if isinstance(result, ServiceError):
            raise result
        return result

    async def resolve_many(self, refs: Sequence[UserRef]) -> dict[str, str | ServiceError]:
        """Object id (or the error) for each ref, keyed by `ref.normalized`. Ids need no call at all."""
        resolved: dict[str, str | ServiceError] = {r.normalized: r.normalized for r in refs if r.is_id}
        upns = sorted({r.normalized for r in refs if not r.is_id})
        if upns:
            cached = await self._cached(upns)
            resolved.update({upn: user_id or user_not_found(upn) for upn, user_id in cached.items()})
            resolved.update(await self._looked_up([upn for upn in upns if upn not in cached]))
        return resolved

    @property
    def _caching(self) -> bool:
        return self._ttl > timedelta(0)  # USER_CACHE_HOURS=0 turns the cache off: no reads, no writes

    async def _cached(self, upns: list[str]) -> dict[str, str | None]:
        # The cache saves Graph calls; when storage is down we still answer, from Graph alone.
        if not self._caching:
            return {}
        try:
            return await self._cache.get_many(upns, self._clock.now())
        except ServiceError as error:
            log.warning("user cache unavailable (%s); resolving from Graph", error.code)
            return {}

    async def _looked_up(self, upns: list[str]) -> dict[str, str | ServiceError]:
        """From Graph, then cached. One UPN is one direct GET (as many calls as a batch of one, and the SDK's
        own retries apply to it); more go in `$batch` calls of 20."""
        if not upns:
            return {}
        if len(upns) == 1:
            found = {upns[0]: await self._look_up_one(upns[0])}
        else:
            found = await self._gateway.user_ids_for(upns)
        found |= await self._by_mail([upn for upn, e in found.items() if _not_found(e)])
        await self._remember({upn: user_id for upn, user_id in found.items() if isinstance(user_id, str)})
        await self._remember_misses([upn for upn, e in found.items() if _not_found(e)])
        return found

    async def _by_mail(self, addresses: list[str]) -> dict[str, str | ServiceError]:
        """The addresses no UPN has, looked up as a `mail` or one of the `proxyAddresses` (an alias)."""
        if not addresses:
            return {}
        return await self._gateway.user_ids_for(addresses, by_mail=True)

    async def _look_up_one(self, upn: str) -> str | ServiceError:
        try:
            user_id = await self._gateway.user_id_for(upn)
        except ServiceError as error:
            return error
        return user_id if user_id is not None else user_not_found(upn)

    async def _remember_misses(self, upns: list[str]) -> None:
        # Only "no such user": a throttled or failed lookup says nothing about the user.
        if not upns or not self._caching or self._miss_ttl <= timedelta(0):
            return
        try:
            await self._cache.put_misses(upns, self._clock.now(), self._miss_ttl)
        except ServiceError as error:
            log.warning("user cache not written (%s)", error.code)

    async def _remember(self, user_ids: dict[str, str]) -> None:
        if not user_ids or not self._caching:
            return
        try:
            await self._cache.put_many(user_ids, self._clock.now(), self._ttl)
        except ServiceError as error:
            log.warning("user cache not written (%s)", error.code)


def _not_found(outcome: str | ServiceError) -> bool:
    return isinstance(outcome, ServiceError) and outcome.code == USER_NOT_FOUND.code
