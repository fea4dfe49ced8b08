"""Holds in Table storage, one row per user, written with ETag compare-and-swap so two workers never both
act on one; each hold's next due time is indexed in the Timeline (shared/platform/timeline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.holds.rules import GraphSession, Hold, MessageHold
from shared.platform.keys import encode_key
from shared.platform.rows import RowMapper
from shared.platform.tables import Conflict, TableStore, guarded
from shared.platform.timeline import Timeline

HOLD_ROW = "hold"


class HoldStore:
    SUFFIX = "Holds"

    def __init__(self, store: TableStore, timeline: Timeline) -> None:
        self._store = store
        self.timeline = timeline

    async def get(self, user_id: str) -> tuple[Hold | None, str | None]:
        table = await self._store.table(self.SUFFIX)
        try:
            entity = await guarded(lambda: table.get_entity(encode_key(user_id), HOLD_ROW))
        except ResourceNotFoundError:
            return None, None
        return hold_from_entity(entity), entity.metadata["etag"]

    async def messages(self, user_ids: list[str]) -> dict[str, MessageHold]:
        """The status messages we hold for these users. Few users: point reads; many: one scan of the
        holds that have a message (far fewer rows than users, and one round trip per 1,000)."""
        if len(user_ids) <= 50:
            holds = await asyncio.gather(*(self.get(u) for u in user_ids))
            return {h.user_id: h.message for h, _ in holds if h is not None and h.message is not None}
        wanted = set(user_ids)
        table = await self._store.table(self.SUFFIX)

        async def scan() -> dict[str, MessageHold]:
            rows = table.query_entities(
                "MessageUpdatedAt ge @epoch",
                parameters={"epoch": datetime(1970, 1, 1, tzinfo=UTC)},
                select=[
                    "UserId",
                    "Message",
                    "MessageUntil",
                    "MessageOwner",
                    "MessageUpdatedAt",
                    "MessageInGraph",
                ],
            )
            found: dict[str, MessageHold] = {}
            async for row in rows:
                if row["UserId"] in wanted:
                    found[row["UserId"]] = _MESSAGE.from_row(row)
            return found

        return await guarded(scan)

    async def save(self, hold: Hold, etag: str | None, due: datetime | None) -> str | None:
        """Write `hold` if the row is still at `etag` (None: it must not exist yet), after indexing it as
        due at `due`. An empty hold with nothing due is deleted. Returns the new ETag (None if deleted).
        The due entry is written first: a crash in between leaves an extra entry (read once and
        dropped), never a hold nobody will look at again."""
        if due is not None:
            await self.timeline.add(due, "hold", hold.user_id)
        table = await self._store.table(self.SUFFIX)
        entity = hold_to_entity(hold)
        try:
            if hold.empty and due is None:
                if etag is not None:
                    await guarded(
                        lambda: table.delete_entity(
                            entity["PartitionKey"],
                            HOLD_ROW,
                            etag=etag,
                            match_condition=MatchConditions.IfNotModified,
                        )
                    )
                return None
            if etag is None:
                result = await guarded(lambda: table.create_entity(entity))
            else:
                result = await guarded(
                    lambda: table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            raise Conflict(hold.user_id) from None
        return str(result["etag"])


# --- entity mapping: flat columns, one prefix per part (SessionUntil, GraphExpiresAt, LastErrorCode) ---

_MESSAGE = RowMapper(MessageHold, prefix="Message", columns={"message": "Message"})
_ROWS = RowMapper(Hold, parts={"message": _MESSAGE, "graph_session": RowMapper(GraphSession, prefix="Graph")})


def hold_to_entity(hold: Hold) -> dict[str, Any]:
    return {"PartitionKey": encode_key(hold.user_id), "RowKey": HOLD_ROW} | _ROWS.to_row(hold)


def hold_from_entity(e: Mapping[str, Any]) -> Hold:
    return _ROWS.from_row(e)
