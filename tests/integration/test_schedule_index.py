"""The user's schedule index flags the schedules that may be running, so an occurrence end finds the one
below it in a stack without reading every schedule the user ever had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID
from shared.clock import Clock
from shared.models import ScheduleInput
from shared.service import Services

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def wall(instant: datetime) -> str:
    return instant.replace(tzinfo=None).isoformat(timespec="seconds")


async def at(services: Services, graph: EmulatorControl, clock: Clock, moment: datetime) -> None:
    clock.set_now(moment, frozen=True)
    await graph.set_clock(moment, frozen=True)
    await services.engine.tick()
    await services.holding.renew_due()


async def running_ids(services: Services) -> set[str]:
    return {r.id for r in await services.schedules.store.running_for_user(ALICE_ID)}


async def test_only_running_schedules_are_flagged_and_the_one_below_shows_again(
    services: Services, graph: EmulatorControl, clock: Clock
):
    await at(services, graph, clock, T0)

    async def create(start: int, end: int, message: str) -> str:
        fields = ScheduleInput(
            user=ALICE_ID,
            start=wall(T0 + timedelta(minutes=start)),
            end=wall(T0 + timedelta(minutes=end)),
            time_zone="UTC",
            status_message=message,
        )
        return (await services.schedules.create("test", fields, None)).id

    for k in range(20):
        await create(1 + k, 2 + k, f"Past {k}")
    await at(services, graph, clock, T0 + timedelta(minutes=5))
    assert len(await running_ids(services)) == 1  # 08:05-08:06 started; the ones before it skipped
    await at(services, graph, clock, T0 + timedelta(minutes=30))  # the 20 are over: skipped or ended
    assert await running_ids(services) == set()

    below = await create(60, 180, "Workshop")
    top = await create(90, 120, "Lunch")
    cancelled = await create(100, 110, "Cancelled early")
    await at(services, graph, clock, T0 + timedelta(minutes=60))
    assert await running_ids(services) == {below}
    await at(services, graph, clock, T0 + timedelta(minutes=90))
    assert await running_ids(services) == {below, top}
    await at(services, graph, clock, T0 + timedelta(minutes=100))
    assert await running_ids(services) == {below, top, cancelled}
    await services.schedules.cancel("test", cancelled)
    await services.engine.settle_now(cancelled)
    assert await running_ids(services) == {below, top}
    await at(services, graph, clock, T0 + timedelta(minutes=120))
    assert await running_ids(services) == {below}
    assert (await graph.user_state(ALICE_ID))["statusMessage"]["content"] == "Workshop"
    await at(services, graph, clock, T0 + timedelta(minutes=180))
    assert await running_ids(services) == set()
