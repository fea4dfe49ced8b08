"""Caps that hold under concurrency (shared/platform/quota.py) against Azurite: parallel creates never pass
the cap, a delete gives its slot back at once, and a slot lost to a crash between taking it and creating is
found again once nothing can still be in flight (the service's clock, moved)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import ScheduleInput, WatchInput
from shared.app import Services
from shared.platform.errors import ServiceError
from shared.platform.quota import RECONCILE_AFTER

HOOK = "https://hooks.example.test/flow"


@pytest.fixture
def at_now(services: Services) -> Services:
    services.clock.set_now(datetime.now(UTC).replace(microsecond=0), frozen=True)
    return services


async def make_watch(services: Services, caller: str, limit: int = 20) -> str | ServiceError:
    body = WatchInput.model_validate({"callbackUrl": HOOK, "users": [ALICE_ID]})
    try:
        return (await services.watches.create(caller, body, services.watches.targets(body), limit=limit)).id
    except ServiceError as error:
        return error


async def test_sixty_parallel_watches_leave_exactly_the_cap(at_now: Services):
    outcomes = await asyncio.gather(*(make_watch(at_now, "user:carol") for _ in range(60)))
    made = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(made) == 20
    assert {(e.status, e.code) for e in refused} == {(409, "tooManyWatches")}
    assert await at_now.watches.store.count_by("user:carol") == 20


async def test_a_deleted_watch_gives_its_slot_back_at_once(at_now: Services):
    made = [await make_watch(at_now, "user:carol", limit=3) for _ in range(3)]
    assert isinstance(await make_watch(at_now, "user:carol", limit=3), ServiceError)
    record, _ = await at_now.watches.get(str(made[0]))
    await at_now.watches.delete("user:carol", record)
    assert isinstance(await make_watch(at_now, "user:carol", limit=3), str)


async def test_slots_lost_to_a_crash_come_back_once_nothing_can_be_in_flight(at_now: Services):
    quotas = at_now.watches._quotas
    full = ServiceError(409, "tooManyWatches", "full")
    for _ in range(3):  # three creates that took a slot and died before writing their watch
        await quotas.take("watches", "user:carol", 3, lambda: asyncio.sleep(0, 0), full)
    refused = await make_watch(at_now, "user:carol", limit=3)
    assert isinstance(refused, ServiceError)
    assert refused.code == "tooManyWatches"
    assert int(refused.headers["Retry-After"]) == RECONCILE_AFTER.total_seconds()
    at_now.clock.advance(RECONCILE_AFTER)
    assert isinstance(await make_watch(at_now, "user:carol", limit=3), str)  # counted: 0 real, 1 now
    assert isinstance(await make_watch(at_now, "user:carol", limit=3), str)


def lunch(user: str, day: int) -> ScheduleInput:
    start = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2 + day)
    return ScheduleInput.model_validate(
        {
            "user": user,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "statusMessage": "Lunch",
        }
    )


async def test_schedules_are_capped_per_user_and_a_cancel_gives_back(at_now: Services):
    at_now.schedules._max_per_user = 5

    async def create(user: str, day: int) -> str | ServiceError:
        try:
            return (await at_now.schedules.create("function-key", lunch(user, day), None)).id
        except ServiceError as error:
            return error

    outcomes = await asyncio.gather(*(create(ALICE_ID, day) for day in range(12)))
    made = [o for o in outcomes if isinstance(o, str)]
    assert len(made) == 5
    assert {(o.status, o.code) for o in outcomes if isinstance(o, ServiceError)} == {
        (409, "tooManySchedules")
    }
    assert isinstance(await create(BOB_ID, 0), str)  # his own cap
    await at_now.schedules.cancel("function-key", made[0])
    assert isinstance(await create(ALICE_ID, 20), str)
    assert await at_now.schedules.store.count_live(ALICE_ID) == 5
