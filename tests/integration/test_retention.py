"""purge_history keeps what is within retention and drops the rest, table by table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableClient

from localdev.graph.demo import ALICE_ID
from shared.api.models import WatchInput
from shared.app import Services
from shared.platform.clock import Clock
from shared.retention import purge_history
from shared.schedules.store import IdempotentCreate, ScheduleRecord
from shared.watches.rules import Seen
from shared.watches.store import Delivery, WatchStore

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stopped_clock(clock: Clock) -> None:
    """The service's clock stands at NOW: every time the product writes (created, seen, written) and every
    time the tests pass in are on one clock, whatever the machine's date."""
    clock.set_now(NOW, frozen=True)


def record(schedule_id: str, status: str, updated: datetime) -> ScheduleRecord:
    return ScheduleRecord(
        id=schedule_id,
        user="alice",
        user_id=ALICE_ID,
        start="2026-01-01T09:00:00Z",
        end="2026-01-01T10:00:00Z",
        time_zone=None,
        recurrence=None,
        status_message="x",
        presence=None,
        preferred_presence=None,
        restore_previous=True,
        status=status,
        created_at=updated,
        created_by="test",
        updated_at=updated,  # type: ignore[arg-type]
    )


async def rows(services: Services, azurite, suffix: str) -> list[dict]:
    name = services.tables.name(suffix)
    async with TableClient.from_connection_string(azurite.connection_string, name) as table:
        return [dict(r) async for r in table.list_entities()]


async def queue(store: WatchStore, watch_id: str, key: str, at: datetime) -> Delivery:
    """A change of the watch's one member, put in its outbox as a tick does."""
    [member] = await store.members(watch_id)
    delivery = Delivery(watch_id, key, b"{}", at)
    await store.record(watch_id, [(member, Seen("Busy", "Busy", key), delivery)], at)
    return delivery


async def test_purge_drops_only_what_is_past_retention(services: Services, azurite):
    audit = services.holds._audit
    for days_ago in (45, 31, 29, 1):
        await audit.append(NOW - timedelta(days=days_ago), "test", "alice", ALICE_ID, "session.set", "ok")
    idempotency = services.schedules._idempotency
    await idempotency.claim("old-key", IdempotentCreate("a" * 32, "h", NOW - timedelta(hours=25)), None)
    await idempotency.claim("new-key", IdempotentCreate("b" * 32, "h", NOW - timedelta(hours=1)), None)
    await services.directory._cache.put_many(
        {"gone@contoso.test": "x"}, NOW - timedelta(days=2), timedelta(days=1)
    )
    await services.directory._cache.put_many({"kept@contoso.test": "y"}, NOW, timedelta(days=1))
    store = services.schedules.store
    old = NOW - timedelta(days=40)
    for schedule_id, status, updated in [
        ("1" * 32, "completed", old),
        ("2" * 32, "cancelled", old),
        ("3" * 32, "failed", old),
        ("4" * 32, "completed", NOW - timedelta(days=3)),
        ("5" * 32, "active", old),
        ("6" * 32, "scheduled", old),
    ]:
        await store.create(record(schedule_id, status, updated))

    outbox = services.watches.store
    body = WatchInput(users=[ALICE_ID], callback_url="https://hooks.example.test/x")
    watch = await services.watches.create("test", body, services.watches.targets(body))
    for key, settled in [
        ("sent-old", "sent"),
        ("dropped-old", "dropped"),
        ("sent-new", "sent"),
        ("pending", None),
    ]:
        delivery = await queue(outbox, watch.id, key, NOW - timedelta(days=3))
        if settled is not None:
            at = NOW - (timedelta(hours=1) if key.endswith("new") else timedelta(days=2))
            await outbox.settle(delivery, settled, at)  # type: ignore[arg-type]

    purged = await purge_history(services.tables, NOW, retention_days=30)

    assert purged == {
        "Audit": 2,
        "Idempotency": 1,
        "UserCache": 1,
        "WatchState": 2,
        "Watches": 0,
        "Schedules": 3,
    }
    state = await rows(services, azurite, "WatchState")
    kept_deliveries = sorted(r["RowKey"] for r in state if r["RowKey"].startswith("~"))
    assert kept_deliveries == ["~pending", "~sent-new"]  # sent a day ago or less: a late poller meets it
    audit_rows = await rows(services, azurite, "Audit")
    kept = sorted(
        (r["At"].date().isoformat(), r["Operation"]) for r in audit_rows if r["Operation"] != "watch.create"
    )
    assert kept == [
        ("2026-10-25", "session.set"),
        ("2026-11-22", "session.set"),
        ("2026-11-23", "history.purge"),  # the purge itself is in the trail
    ]
    assert [r["ScheduleId"] for r in await rows(services, azurite, "Idempotency")] == ["b" * 32]
    assert sorted(r["PartitionKey"] for r in await rows(services, azurite, "Schedules")) == [
        "4" * 32,
        "5" * 32,
        "6" * 32,
    ]
    assert sorted(r["RowKey"] for r in await rows(services, azurite, "ScheduleIndex")) == [
        "4" * 32,
        "5" * 32,
        "6" * 32,
    ]
    assert [r["UserId"] for r in await rows(services, azurite, "UserCache")] == ["y"]
    assert await purge_history(services.tables, NOW, retention_days=30) == {
        "Audit": 0,
        "Idempotency": 0,
        "UserCache": 0,
        "WatchState": 0,
        "Watches": 0,
        "Schedules": 0,
    }


async def test_purge_sweeps_old_disabled_watches_and_the_rows_of_deleted_ones(services: Services):
    store = services.watches.store
    made = []
    for _ in range(3):
        body = WatchInput(users=[ALICE_ID], callback_url="https://hooks.example.test/x")
        made.append(await services.watches.create("test", body, services.watches.targets(body)))
    old, recent, deleted = made
    for watch, disabled_at in ((old, NOW - timedelta(days=31)), (recent, NOW - timedelta(days=2))):
        record, etag = await store.get(watch.id)
        assert record is not None
        assert etag is not None
        await store.replace(replace(record, status="disabled", disabled_at=disabled_at), etag)
    await queue(store, recent.id, "late", NOW)  # by a tick racing the disabling
    await store.delete(deleted.id)
    await store.set_members(deleted.id, {ALICE_ID: "alice"}, [], NOW)  # a group refresh racing the DELETE

    purged = await purge_history(services.tables, NOW + timedelta(hours=2), retention_days=30)

    assert purged["Watches"] == 2  # the old disabled one, and what was left of the deleted one
    assert [w.id for w, _ in await store.all()] == [recent.id]
    assert await store.pending(recent.id) == []  # dropped: a disabled watch sends nothing
    assert await store.members(old.id) == []
    assert await store.members(deleted.id) == []


async def test_the_sweep_leaves_a_watch_being_made_alone(services: Services):
    """Its members are written before its own row: for a while they look like a deleted watch's."""
    store = services.watches.store
    await store.set_members("e" * 32, {ALICE_ID: "alice"}, [], NOW)
    soon = NOW + timedelta(minutes=59)
    assert await store.sweep(soon - timedelta(days=30), soon) == 0
    assert [m.user_id for m in await store.members("e" * 32)] == [ALICE_ID]
    later = NOW + timedelta(hours=2)  # never finished: its rows go
    assert await store.sweep(later - timedelta(days=30), later) == 1
    assert await store.members("e" * 32) == []
