"""Holds in Table storage, one row per user, written with ETag compare-and-swap so two workers never both
act on one; each hold's next due time is indexed in the Timeline (shared/platform/timeline.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.holds.rules import Failure, GraphSession, Hold, MessageHold, PreferredHold, SessionHold
from shared.platform.keys import encode_key
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
                    found[row["UserId"]] = _message(row)
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


# --- entity mapping: flat properties, one prefix per part ------------------------------------------------


def hold_to_entity(hold: Hold) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": encode_key(hold.user_id),
        "RowKey": HOLD_ROW,
        "UserId": hold.user_id,
        "User": hold.user,
        "Attempts": hold.attempts,
    }
    if hold.session:
        s = hold.session
        entity |= {
            "SessionAvailability": s.availability,
            "SessionActivity": s.activity,
            "SessionUntil": s.until,
            "SessionOwner": s.owner,
            "SessionUpdatedAt": s.updated_at,
        }
    if hold.preferred:
        p = hold.preferred
        entity |= {
            "PreferredAvailability": p.availability,
            "PreferredActivity": p.activity,
            "PreferredUntil": p.until,
            "PreferredKeepSessionAlive": p.keep_session_alive,
            "PreferredOwner": p.owner,
            "PreferredUpdatedAt": p.updated_at,
            "PreferredGraphExpiresAt": p.graph_expires_at,
        }
    if hold.message:
        m = hold.message
        entity |= {
            "Message": m.message,
            "MessageOwner": m.owner,
            "MessageUpdatedAt": m.updated_at,
            "MessageInGraph": m.in_graph,
        }
        if m.until is not None:
            entity["MessageUntil"] = m.until
        if m.replaced is not None:
            entity["MessageReplaced"] = m.replaced
        if m.replaced_until is not None:
            entity["MessageReplacedUntil"] = m.replaced_until
    if hold.graph_session:
        g = hold.graph_session
        entity |= {
            "GraphAvailability": g.availability,
            "GraphActivity": g.activity,
            "GraphSetAt": g.set_at,
            "GraphExpiresAt": g.expires_at,
        }
    if hold.last_error:
        e = hold.last_error
        entity |= {"LastErrorCode": e.code, "LastErrorMessage": e.message, "LastErrorAt": e.at}
    if hold.claimed_until:
        entity["ClaimedUntil"] = hold.claimed_until
    return entity


def _utc(value: Any) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), UTC)


def _message(e: dict[str, Any]) -> MessageHold:
    until = _utc(e["MessageUntil"]) if e.get("MessageUntil") else None
    return MessageHold(
        e["Message"],
        until,
        e["MessageOwner"],
        _utc(e["MessageUpdatedAt"]),
        e.get("MessageReplaced"),
        bool(e.get("MessageInGraph", True)),
        _utc(e["MessageReplacedUntil"]) if e.get("MessageReplacedUntil") else None,
    )


def hold_from_entity(e: dict[str, Any]) -> Hold:
    session = preferred = message = graph = error = None
    if "SessionAvailability" in e:
        session = SessionHold(
            e["SessionAvailability"],
            e["SessionActivity"],
            _utc(e["SessionUntil"]),
            e["SessionOwner"],
            _utc(e["SessionUpdatedAt"]),
        )
    if "PreferredAvailability" in e:
        preferred = PreferredHold(
            e["PreferredAvailability"],
            e["PreferredActivity"],
            _utc(e["PreferredUntil"]),
            bool(e["PreferredKeepSessionAlive"]),
            e["PreferredOwner"],
            _utc(e["PreferredUpdatedAt"]),
            _utc(e["PreferredGraphExpiresAt"]),
        )
    if "Message" in e:
        message = _message(e)
    if "GraphAvailability" in e:
        graph = GraphSession(
            e["GraphAvailability"], e["GraphActivity"], _utc(e["GraphSetAt"]), _utc(e["GraphExpiresAt"])
        )
    if "LastErrorCode" in e:
        error = Failure(e["LastErrorCode"], e["LastErrorMessage"], _utc(e["LastErrorAt"]))
    return Hold(
        user_id=e["UserId"],
        user=e["User"],
        session=session,
        preferred=preferred,
        message=message,
        graph_session=graph,
        attempts=int(e.get("Attempts", 0)),
        last_error=error,
        claimed_until=_utc(e["ClaimedUntil"]) if "ClaimedUntil" in e else None,
    )
