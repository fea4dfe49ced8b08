"""Old series through the engine (Azurite + the emulator): a schedule stores where its evaluation resumes
(at create, and after every step), and a row written before marks were stored (0.6) is stepped exactly
as a marked one, and marked by its first step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import ScheduleInput
from shared.app import Services
from shared.platform.clock import Clock
from shared.schedules.recurrence import occurrences, parse_series
from shared.schedules.store import EngineState

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
BEGUN = "2021-11-23T09:30:00"  # five years ago, daily 09:30-10:00 Berlin


async def at(services: Services, graph: EmulatorControl, clock: Clock, moment: datetime) -> None:
    clock.set_now(moment, frozen=True)
    await graph.set_clock(moment, frozen=True)
    await services.engine.tick()


async def test_old_series_resume_where_they_were_and_unmarked_rows_step_the_same(
    services: Services, graph: EmulatorControl, clock: Clock
):
    await at(services, graph, clock, T0)
    ids = []
    for user in (ALICE_ID, BOB_ID):
        fields = ScheduleInput(
            user=user,
            start=BEGUN,
            end="2021-11-23T10:00:00",
            time_zone="Europe/Berlin",
            recurrence="FREQ=DAILY",
            status_message="Standup",
        )
        ids.append((await services.schedules.create("test", fields, None)).id)
    series = parse_series(BEGUN, "2021-11-23T10:00:00", "Europe/Berlin", "FREQ=DAILY", None)
    today = next(o for o in occurrences(series) if o.end > T0)  # 26 November 2026, 08:30 UTC
    assert today.start == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)

    marked, _ = await services.schedules.store.get(ids[0])
    assert marked is not None
    assert marked.engine.resume.split("|")[1] == str(today.index - 1)  # the last occurrence ended
    # Bob's row as 0.6 wrote it: no mark, evaluated from the series' first occurrence.
    bob, etag = await services.schedules.store.get(ids[1])
    assert bob is not None
    assert etag is not None
    await services.schedules.store.replace(replace(bob, engine=EngineState()), etag)

    await at(services, graph, clock, today.start)  # both skip 1,826 occurrences and start today's
    await at(services, graph, clock, today.end)
    await at(services, graph, clock, today.start + timedelta(days=1))
    for schedule_id in ids:
        record, _ = await services.schedules.store.get(schedule_id)
        assert record is not None
        assert (record.status, record.last_done) == ("active", (today.index + 1, "start"))
        assert record.engine.resume.split("|")[1] == str(today.index + 1)
        assert record.engine.resume == marked.engine.resume.replace(
            f"|{today.index - 1}|{today.index - 1}|2026-11-22T",
            f"|{today.index + 1}|{today.index + 1}|2026-11-24T",
        )
    calls = await graph.journal(method="POST")
    per_user = {
        user: [e.path.replace(user, "{user}") for e in calls if user in e.path] for user in (ALICE_ID, BOB_ID)
    }
    # The same Graph calls for both (today's start, its end, tomorrow's start), nothing for those skipped.
    assert per_user[ALICE_ID] == per_user[BOB_ID]
    assert per_user[ALICE_ID].count("/v1.0/users/{user}/presence/setStatusMessage") == 2
