"""One Graph presence budget for the tenant, against Azurite and the emulator with Graph's throttle on:
two service instances over the same tables never exceed it together; lower priorities take only what is
left above a reserve; a tick whose time runs out waiting for the budget loses nothing and counts no
failure. The budget's clock is injected and moved a second at a time, so the runs take seconds."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from localdev.azurite import Azurite
from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import SessionRequest
from shared.app import Services, build_services
from shared.platform.budget import Priority, slot_cap, spending
from shared.platform.clock import Clock
from shared.platform.errors import ServiceError
from tests.integration.conftest import settings_for
from tests.recorded_metrics import Recorded, reader

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BUSY = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)


def fullest_window(stamps: list[float], window: float = 30.0) -> int:
    stamps = sorted(stamps)
    return max((bisect.bisect_left(stamps, t + window) - i for i, t in enumerate(stamps)), default=0)


@pytest.fixture
def budget_clock() -> Clock:
    clock = Clock()
    clock.set_now(T0, frozen=True)
    return clock


@pytest.fixture
async def instances(
    azurite: Azurite, emulator_url: str, graph: EmulatorControl, budget_clock: Clock
) -> AsyncIterator[list[Services]]:
    """Two instances of the service on the same tables (one settings object: one TABLE_PREFIX)."""
    config = settings_for(azurite, emulator_url, GRAPH_BUDGET_PER_30S="66", GRAPH_BUDGET_WAIT_SECONDS="0")
    built = [build_services(config, Clock(), budget_clock=budget_clock) for _ in range(2)]
    await graph.set_clock(T0, frozen=True)
    yield built
    for services in built:
        await services.tables.close()


async def test_two_instances_sharing_the_budget_never_exceed_it(instances, graph, budget_clock):
    assert slot_cap(66) == 2  # a second may hold 2 requests of both instances together
    await graph.presence_budget(66)  # Graph's throttle, at the service's budget
    wanted = 45  # per instance: 90 reads, more than the budget allows in any 30 s

    async def reads(services: Services) -> None:
        with spending(Priority.KEEP, time.monotonic() + 60):  # a timer: waits for its turn
            await asyncio.gather(*(services.gateway.presence(ALICE_ID) for _ in range(wanted)))

    async def seconds_pass(done: asyncio.Future[object]) -> None:
        while not done.done():  # both clocks move a second at a time, in step
            await asyncio.sleep(0.05)
            budget_clock.advance(timedelta(seconds=1))
            await graph.advance(seconds=1)

    done = asyncio.ensure_future(asyncio.gather(*(reads(s) for s in instances)))
    await asyncio.gather(done, seconds_pass(done))

    journal = await graph.journal(path="/presence")
    assert len(journal) == 2 * wanted
    assert [e.status for e in journal if e.status != 200] == []  # Graph's throttle never answered
    assert fullest_window([e.at.timestamp() for e in journal]) <= 66
    assert (await graph.budget())["refused"] == 0


async def test_lower_priorities_take_only_what_is_left_above_a_reserve(instances, graph):
    # 66 per 30 s: 2 per second; reads may fill a second to 1, changes to 1, renewals to 2.
    first, second = instances

    async def outcome(services: Services, priority: Priority) -> str:
        try:
            with spending(priority, time.monotonic()):
                await services.gateway.presence(ALICE_ID)
        except ServiceError as error:
            return error.code
        return "ok"

    assert await outcome(first, Priority.READ) == "ok"
    assert await outcome(second, Priority.READ) == "graphBudgetExhausted"
    assert await outcome(second, Priority.CHANGE) == "graphBudgetExhausted"
    assert await outcome(second, Priority.KEEP) == "ok"  # the reserve was kept for it
    assert await outcome(first, Priority.KEEP) == "graphBudgetExhausted"
    assert len(await graph.journal(path="/presence")) == 2  # no refused call reached Graph


async def test_renewals_short_of_budget_go_first_in_the_next_second_until_half_of_it_is_gone(
    azurite, emulator_url, graph, budget_clock
):
    # 330 per 30 s: 10 per second; changes may fill 9 of them, and leave alone what renewals reserved.
    config = settings_for(azurite, emulator_url, GRAPH_BUDGET_PER_30S="330")
    first, second = (build_services(config, Clock(), budget_clock=budget_clock) for _ in range(2))
    await graph.set_clock(T0, frozen=True)

    async def answered(services: Services, priority: Priority, calls: int) -> int:
        async def one() -> str:
            try:
                with spending(priority, time.monotonic() + 0.3):  # the budget's clock stands still
                    await services.gateway.presence(ALICE_ID)
            except ServiceError as error:
                return error.code
            return "ok"

        codes = await asyncio.gather(*(one() for _ in range(calls)))
        assert set(codes) <= {"ok", "graphBudgetExhausted"}
        return codes.count("ok")

    try:
        assert await answered(first, Priority.KEEP, 10) == 10  # this second is full
        assert await answered(second, Priority.KEEP, 1) == 0  # refused: reserves 2 of the next second
        budget_clock.advance(timedelta(seconds=1))
        assert await answered(first, Priority.CHANGE, 9) == 8  # 10 less the 2 reserved, and ...
        budget_clock.advance(timedelta(seconds=0.5))  # ... those 2 once half the second is gone unclaimed
        assert await answered(first, Priority.CHANGE, 3) == 2
        assert len(await graph.journal(path="/presence")) == 20
        assert (await graph.budget())["refused"] == 0
    finally:
        for services in (first, second):
            await services.tables.close()


async def test_an_http_caller_past_the_budget_gets_a_429_without_waiting(instances, graph):
    reader()  # the process's meter provider, before anything is recorded
    recorded = Recorded()
    first, _ = instances
    await first.gateway.presence(ALICE_ID)  # a read fills this second's share for reads
    began = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        await first.presence.read(ALICE_ID)
    assert time.monotonic() - began < 2
    assert (caught.value.status, caught.value.code) == (429, "graphBudgetExhausted")
    assert caught.value.headers["Retry-After"].isdigit()
    assert len(await graph.journal(path="/presence")) == 1
    assert recorded.total("presence.graph.budget_waits", outcome="refused") == 1  # what admins see


async def test_a_renew_tick_out_of_time_for_the_budget_loses_nothing_and_counts_no_failure(
    azurite, emulator_url, graph, budget_clock
):
    config = settings_for(azurite, emulator_url, GRAPH_BUDGET_PER_30S="33", TICK_TIME_LIMIT_SECONDS="5")
    clock = Clock()
    clock.set_now(T0, frozen=True)
    services = build_services(config, clock, budget_clock=budget_clock)
    try:
        await graph.set_clock(T0, frozen=True)
        await services.holds.hold_session("test", ALICE_ID, BUSY)  # 1 request: this second is full
        budget_clock.advance(timedelta(seconds=1))
        await services.holds.hold_session("test", BOB_ID, BUSY)
        clock.advance(timedelta(hours=3, minutes=55))
        await graph.set_clock(clock.now(), frozen=True)
        budget_clock.advance(timedelta(seconds=1))
        await graph.clear_journal()

        assert await services.holds.renew_due() == 2  # both acted on; one second held only one call
        renewed = [e.path.split("/")[3] for e in await graph.journal(path="/setPresence")]
        assert len(renewed) == 1
        waiting = BOB_ID if renewed == [ALICE_ID] else ALICE_ID
        hold = (await services.holds.store.get(waiting))[0]
        assert (hold.attempts, hold.last_error, hold.claimed_until) == (0, None, None)
        due = await services.holds.store.timeline.due(clock.now(), "hold")
        assert [e.ref for e in due] == [waiting]  # still due: the next tick renews it

        budget_clock.advance(timedelta(seconds=1))
        assert await services.holds.renew_due() == 1
        renewed = [e.path.split("/")[3] for e in await graph.journal(path="/setPresence")]
        assert sorted(renewed) == sorted([ALICE_ID, BOB_ID])
    finally:
        await services.tables.close()
