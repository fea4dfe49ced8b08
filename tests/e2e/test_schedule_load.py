"""A page of old schedules through the local host: evaluated off the event loop (a health check sent
meanwhile is not held behind it), and the same answers whether a row carries its resume mark or not."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta

from azure.data.tables.aio import TableClient

from localdev.graph.demo import ALICE_ID
from shared.platform.keys import new_record_id
from shared.schedules.recurrence import parse_series
from shared.schedules.store import EngineState, ScheduleRecord, record_to_entity
from shared.schedules.timer import resume_mark
from tests.e2e.conftest import START

PAGE = 200


def _old_schedule(years: int, marked: bool) -> ScheduleRecord:
    """A daily schedule begun `years` ago, as 0.7 writes it (marked) or as a row from before (unmarked,
    evaluated from its first occurrence: the heaviest a page can be)."""
    start = (START - timedelta(days=365 * years)).replace(tzinfo=None, hour=9, minute=0)
    begun, ended = start.isoformat(), (start + timedelta(minutes=30)).isoformat()
    series = parse_series(begun, ended, "Europe/Berlin", "FREQ=DAILY", START)
    return ScheduleRecord(
        id=new_record_id(),
        user="alice@contoso.test",
        user_id=ALICE_ID,
        start=begun,
        end=ended,
        time_zone="Europe/Berlin",
        recurrence="FREQ=DAILY",
        status_message="Standup",
        presence=None,
        preferred_presence=None,
        restore_previous=True,
        status="scheduled",
        created_at=START,
        created_by="test",
        updated_at=START,
        engine=EngineState(resume=resume_mark(series) if marked else None),
    )


async def _store(stack, records: list[ScheduleRecord]) -> None:
    name = f"{stack.table_prefix}Schedules"
    async with TableClient.from_connection_string(stack.azurite.connection_string, name) as table:
        with_table = asyncio.Semaphore(16)

        async def put(record: ScheduleRecord) -> None:
            async with with_table:
                await table.upsert_entity(record_to_entity(record))

        await asyncio.gather(*(put(r) for r in records))


async def test_a_page_of_old_schedules_does_not_hold_the_event_loop(api, clock, stack):
    await api.get("/api/schedules?top=1")  # the table exists
    await _store(stack, [_old_schedule(4, marked=False) for _ in range(PAGE)])
    health_times: list[float] = []

    async def health_meanwhile(page: asyncio.Task) -> None:
        while not page.done():
            sent = time.perf_counter()
            reply = await api.get("/api/health", key=None)
            assert reply.status == 200, reply.body
            health_times.append(time.perf_counter() - sent)
            await asyncio.sleep(0.02)

    started = time.perf_counter()
    page = asyncio.create_task(api.get(f"/api/schedules?top={PAGE}"))
    await asyncio.gather(page, health_meanwhile(page))
    page_time = time.perf_counter() - started
    reply = page.result()
    assert reply.status == 200, reply.body
    assert len(reply.body["value"]) == PAGE
    assert all(s["nextStart"] is not None for s in reply.body["value"])
    # The premise: 200 series of 1,460 occurrences each, evaluated from their first, take seconds of CPU.
    # Were they evaluated on the event loop, a health check sent meanwhile would wait for most of it.
    assert page_time > 1.0, f"the page took {page_time:.2f} s: too little work to show anything"
    assert len(health_times) >= 3, health_times
    assert max(health_times) < page_time / 3, (page_time, health_times)


async def test_marked_and_unmarked_rows_answer_the_same(api, clock, stack):
    await api.get("/api/schedules?top=1")
    pairs = []
    for years in (0, 1, 3):
        marked = _old_schedule(years, marked=True)
        pairs.append((marked, replace(marked, id=new_record_id(), engine=EngineState())))
    assert all(m.engine.resume for m, _ in pairs[1:])  # a series begun before now is marked
    await _store(stack, [record for pair in pairs for record in pair])
    for hours in (0, 1, 26, 24 * 400):
        await clock.set(START + timedelta(hours=hours))
        for marked, plain in pairs:
            views = [(await api.get(f"/api/schedules/{r.id}")).body for r in (marked, plain)]
            assert [(v["nextStart"], v["nextEnd"]) for v in views] == [
                (views[1]["nextStart"], views[1]["nextEnd"])
            ] * 2
