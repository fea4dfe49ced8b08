"""Turning what callers write (object ids or UPNs) into object ids: the cache in Table storage first, Graph
for the rest. A UPN Graph does not know is `userNotFound`; misses are not cached (the user may be created)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from shared.clock import Clock
from shared.errors import ServiceError, user_not_found
from shared.graph import PresenceGateway
from shared.tables import UserCache
from shared.users import UserRef

log = logging.getLogger(__name__)


class UserDirectory:
    def __init__(self, gateway: PresenceGateway, cache: UserCache, clock: Clock, ttl: timedelta) -> None:
        self._gateway = gateway
        self._cache = cache
        self._clock = clock
        self._ttl = ttl

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
            misses = [upn for upn in upns if upn not in cached]
            looked_up = await asyncio.gather(*(self._lookup(upn) for upn in misses))
            resolved.update(cached)
            resolved.update(zip(misses, looked_up, strict=True))
        return resolved

    async def _cached(self, upns: list[str]) -> dict[str, str]:
        # The cache saves Graph calls; when storage is down we still answer, from Graph alone.
        try:
            return await self._cache.get_many(upns, self._clock.now())
        except ServiceError as error:
            log.warning("user cache unavailable (%s); resolving from Graph", error.code)
            return {}

    async def _lookup(self, upn: str) -> str | ServiceError:
        try:
            user_id = await self._gateway.user_id_for(upn)
        except ServiceError as error:
            return error
        if user_id is None:
            return user_not_found(upn)
        try:
            await self._cache.put(upn, user_id, self._clock.now(), self._ttl)
        except ServiceError as error:
            log.warning("user cache not written (%s)", error.code)
        return user_id
