"""Due work against Azurite and the emulator: each kind of work has its own due index, so a backlog of
schedule starts never delays a hold's renewal; a tick drains past 1,000 entries; entries an older
deployment wrote in the shared partitions (due0..3) are still found and acted on."""

from __future__ import annotations

from datetime import datetime, timedelta

from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import PresencePair, ScheduleInput, SessionRequest
from shared.app import Services
from shared.platform.budget import Priority
from shared.platform.tables import submit_batches
from shared.platform.ticking import drain_due
from shared.platform.timeline import DueEntry, Timeline, due_keys
from tests.integration.conftest import T0, travel

BUSY = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)


async def index_schedules(services: Services, due: datetime, count: int) -> list[str]:
    """`count` schedule entries due at `due`, written as ScheduleService indexes a schedule (one
    transaction per 100 rows, so the test sets up fast); their schedules do not exist."""
    refs = [f"{k:08x}-0000-4000-8000-000000000000" for k in range(count)]
    rows = []
    for ref in refs:
        pk, rk = due_keys(due, "schedule", ref)
        rows.append(("upsert", {"PartitionKey": pk, "RowKey": rk, "Kind": "schedule", "Ref": ref}))
    await submit_batches(await services.tables.table(Timeline.SUFFIX), rows)
    return refs


async def legacy_entry(services: Services, due: datetime, kind: str, ref: str, shard: int) -> None:
    """An entry as 0.6 wrote it: every kind in the partitions due0..3."""
    _, rk = due_keys(due, kind, ref)
    table = await services.tables.table(Timeline.SUFFIX)
    await table.upsert_entity({"PartitionKey": f"due{shard}", "RowKey": rk, "Kind": kind, "Ref": ref})


async def timeline_rows(services: Services) -> list[dict]:
    table = await services.tables.table(Timeline.SUFFIX)
    return [dict(row) async for row in table.list_entities()]


async def test_1100_schedule_starts_due_first_do_not_delay_a_renewal(at_t0, graph):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    # 1,100 schedule starts due a minute after the hold was set: before its renewal, oldest first.
    await index_schedules(services, T0 + timedelta(minutes=1), 1100)
    await travel(services, graph, timedelta(hours=3, minutes=55))
    await graph.clear_journal()

    assert await services.holds.renew_due() == 1  # one renew tick
    renewals = await graph.journal(path="/setPresence")
    assert [(e.path.split("/")[3], e.body["expirationDuration"]) for e in renewals] == [
        (ALICE_ID, "PT4H")  # the 8-hour hold renewed at 3h55 for the 4h05 left, at most Graph's 4 h
    ]
    # The schedule starts are untouched by the renew tick and all still due for the schedule tick.
    assert len(await services.engine._timeline.due(services.clock.now(), "schedule", 2000)) == 1100


async def test_a_tick_drains_more_than_a_thousand_due_entries(at_t0, graph):
    services = at_t0
    await index_schedules(services, T0 - timedelta(minutes=1), 1100)
    await services.engine.tick()  # every entry read; a schedule that does not exist is unindexed
    assert await timeline_rows(services) == []


async def test_entries_an_older_deployment_wrote_are_still_acted_on(at_t0, graph):
    services = at_t0
    await services.holds.hold_session("test", BOB_ID, BUSY)
    schedule = await services.schedules.create(
        "test",
        ScheduleInput(
            user=ALICE_ID,
            start=(T0 + timedelta(minutes=10)).replace(tzinfo=None).isoformat(timespec="seconds"),
            end=(T0 + timedelta(minutes=40)).replace(tzinfo=None).isoformat(timespec="seconds"),
            time_zone="UTC",
            presence=PresencePair(availability="Busy", activity="InACall"),
        ),
        None,
    )
    # As if 0.6 had indexed both: the hold's renewal and the schedule's start in the shared partitions.
    table = await services.tables.table(Timeline.SUFFIX)
    for row in await timeline_rows(services):
        await table.delete_entity(row["PartitionKey"], row["RowKey"])
    await legacy_entry(services, T0 + timedelta(hours=3, minutes=55), "hold", BOB_ID, 1)
    await legacy_entry(services, T0 + timedelta(minutes=10), "schedule", schedule.id, 1)

    await travel(services, graph, timedelta(minutes=10))
    await graph.clear_journal()
    assert await services.holds.renew_due() == 0  # the legacy schedule entry is not the renewer's
    assert await services.engine.tick() == 1
    started = await graph.journal(path="/setPresence")
    assert [e.path.split("/")[3] for e in started] == [ALICE_ID]
    await travel(services, graph, timedelta(hours=3, minutes=45))
    await graph.clear_journal()
    assert await services.holds.renew_due() == 2  # Bob's renewal from the legacy entry, Alice's session
    renewed = sorted(e.path.split("/")[3] for e in await graph.journal(path="/setPresence"))
    assert BOB_ID in renewed
    legacy = [r for r in await timeline_rows(services) if r["PartitionKey"].startswith("due")]
    assert legacy == []  # moved to the kind's own partitions as they were acted on


async def test_a_tick_starts_no_entry_after_its_time_limit_and_leaves_the_rest_due(at_t0, graph):
    services = at_t0
    refs = await index_schedules(services, T0 - timedelta(minutes=1), 5)
    timeline = services.engine._timeline
    elapsed = [0.0]
    acted: list[str] = []

    async def act(entry: DueEntry) -> int:  # each entry takes a second of the tick's time
        acted.append(entry.ref)
        elapsed[0] += 1
        await timeline.remove(entry)
        return 1

    done = await drain_due(
        timeline,
        "schedule",
        services.clock,
        act,
        priority=Priority.CHANGE,
        concurrency=1,
        time_limit=2.5,
        monotonic=lambda: elapsed[0],
    )
    assert done == len(acted) == 3  # started at 0, 1 and 2 s; not at 3 s
    left = await timeline.due(services.clock.now(), "schedule")
    assert sorted(e.ref for e in left) == sorted(set(refs) - set(acted))
