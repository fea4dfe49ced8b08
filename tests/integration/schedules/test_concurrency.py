"""A schedule step racing the API or dying half-way: a DELETE or PATCH during a start is refused (409
scheduleBusy) rather than leaving the start applied for good; a worker that dies after Graph took a start
leaves enough in the row for the next step to undo it. And the user's schedule index flags the schedules
that may be running, so an occurrence end finds the one below it in a stack without reading every
schedule the user ever had."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID
from shared.api.models import PresencePair, ScheduleFields, ScheduleInput
from shared.app import Services
from shared.holds.rules import CLAIM_LEASE
from shared.platform.clock import Clock
from shared.platform.errors import ServiceError

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def wall(instant: datetime) -> str:
    return instant.replace(tzinfo=None).isoformat(timespec="seconds")


async def at(services: Services, graph: EmulatorControl, clock: Clock, moment: datetime) -> None:
    clock.set_now(moment, frozen=True)
    await graph.set_clock(moment, frozen=True)
    await services.engine.tick()
    await services.holds.renew_due()


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


async def meeting(services: Services, graph: EmulatorControl, clock: Clock) -> str:
    """08:10-08:40: Busy and "Meeting", over the user's own "Before"."""
    await at(services, graph, clock, T0)
    await graph.set_status_message_as_user(ALICE_ID, "Before")
    fields = ScheduleInput(
        user=ALICE_ID,
        start=wall(T0 + timedelta(minutes=10)),
        end=wall(T0 + timedelta(minutes=40)),
        time_zone="UTC",
        status_message="Meeting",
        presence=PresencePair(availability="Busy", activity="InACall"),
    )
    return (await services.schedules.create("test", fields, None)).id


async def message_writes(graph: EmulatorControl) -> list[str]:
    return [
        entry.body["statusMessage"]["message"]["content"]
        for entry in await graph.journal(path="/setStatusMessage")
        if entry.path.startswith("/v1.0/users/") and entry.status < 300
    ]


async def test_a_cancel_or_patch_during_a_start_is_refused_until_the_start_is_recorded(
    services: Services, graph: EmulatorControl, clock: Clock
):
    schedule_id = await meeting(services, graph, clock)
    apply_schedule = services.holds.apply_schedule
    refusals: list[str] = []

    async def then_the_caller_acts(*args, **kwargs):
        outcome = await apply_schedule(*args, **kwargs)  # Graph took the start; the row says nothing yet
        for attempt in (
            services.schedules.cancel("flow", schedule_id),
            services.schedules.update("flow", schedule_id, ScheduleFields(status_message="Lunch"), None),
        ):
            with pytest.raises(ServiceError) as refused:
                await attempt
            refusals.append(f"{refused.value.status} {refused.value.code}")
        return outcome

    services.holds.apply_schedule = then_the_caller_acts  # type: ignore[method-assign]
    await at(services, graph, clock, T0 + timedelta(minutes=10))
    services.holds.apply_schedule = apply_schedule  # type: ignore[method-assign]
    assert refusals == ["409 scheduleBusy", "409 scheduleBusy"]

    assert await services.schedules.cancel("flow", schedule_id)  # now it is active: reverted at once
    await services.engine.settle_now(schedule_id)
    assert await message_writes(graph) == ["Meeting", "Before"]
    state = await graph.user_state(ALICE_ID)
    assert state["statusMessage"]["content"] == "Before"
    assert await running_ids(services) == set()


async def test_a_start_whose_worker_died_is_undone_when_its_occurrence_passed_meanwhile(
    services: Services, graph: EmulatorControl, clock: Clock
):
    schedule_id = await meeting(services, graph, clock)
    apply_schedule = services.holds.apply_schedule

    async def and_the_host_dies(*args, **kwargs):
        await apply_schedule(*args, **kwargs)
        raise RuntimeError("the host died before the schedule row was written")

    services.holds.apply_schedule = and_the_host_dies  # type: ignore[method-assign]
    await at(services, graph, clock, T0 + timedelta(minutes=10))
    services.holds.apply_schedule = apply_schedule  # type: ignore[method-assign]
    assert (await graph.user_state(ALICE_ID))["statusMessage"]["content"] == "Meeting"

    # Down until 08:45: the claim's lease is long over, and so is the occurrence: it is skipped, and what
    # its start did is undone like an end (the message it replaced comes back, once).
    assert T0 + timedelta(minutes=10) + CLAIM_LEASE < T0 + timedelta(minutes=45)
    await at(services, graph, clock, T0 + timedelta(minutes=45))
    assert await message_writes(graph) == ["Meeting", "Before"]
    view, _ = await services.schedules.get(schedule_id)
    assert view.status == "completed"
    hold, _ = await services.holds.store.get(ALICE_ID)
    assert hold is None or (hold.message is None and hold.session is None)
    assert await running_ids(services) == set()
