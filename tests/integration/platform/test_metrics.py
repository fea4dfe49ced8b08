"""The app's metrics from the real flows (Azurite, the emulator through msgraph-sdk, a receiver on
loopback), read with an in-memory reader: what a renewal, a throttled call, a schedule's steps and its
failure for good, and a watch's deliveries record, and that no attribute names a user or a message."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import ScheduleInput, SessionRequest, WatchInput
from shared.app import Services
from tests.receiver import Receiver
from tests.recorded_metrics import Recorded, reader

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BUSY = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)
SECRET_MESSAGE = "Dentist, back at 3"


@pytest.fixture
def recorded() -> Recorded:
    reader()  # the meter provider is in place before anything is recorded
    return Recorded()


@pytest.fixture
async def at_t0(services: Services, graph: EmulatorControl) -> Services:
    services.clock.set_now(T0, frozen=True)
    await graph.set_clock(T0, frozen=True)
    return services


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def travel(services: Services, graph: EmulatorControl, delta: timedelta) -> None:
    services.clock.advance(delta)
    await graph.set_clock(services.clock.now(), frozen=True)


def no_user_in(recorded: Recorded) -> None:
    values = recorded.attribute_values()
    assert values
    for private in (ALICE_ID, BOB_ID, "alice", SECRET_MESSAGE):
        assert not [v for v in values if private in v.lower() or private in v], private


async def test_a_renewal_counts_as_done_with_its_graph_call(at_t0, graph, recorded):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    assert recorded.total("presence.graph.calls", action="setPresence", status="200") == 1
    await travel(services, graph, timedelta(hours=3, minutes=55))

    assert await services.holds.renew_due() == 1

    assert len(await graph.journal(path="/setPresence")) == 2
    assert recorded("presence.renewals.done") == {frozenset({("operation", "session.set")}): 1}
    assert recorded("presence.graph.calls") == {frozenset({("action", "setPresence"), ("status", "200")}): 2}
    assert recorded.total("presence.renewals.lateness") == 1
    assert recorded.total("presence.renewals.failed") == 0
    no_user_in(recorded)


async def test_a_hold_renewed_after_a_missed_tick_counts_as_late(at_t0, graph, recorded):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    await travel(services, graph, timedelta(hours=4, minutes=30))  # the ticks of half an hour missed
    assert await services.holds.renew_due() == 1
    assert recorded.total("presence.renewals.late") == 1
    assert recorded.total("presence.renewals.done", operation="session.set") == 1


async def test_a_throttled_graph_call_shows_its_429_and_the_retry(at_t0, graph, recorded):
    services = at_t0
    await graph.fault(method="POST", path="*/setPresence", status=429, count=1, retry_after=0)
    await services.holds.hold_session("test", ALICE_ID, BUSY)

    statuses = [e.status for e in await graph.journal(path="/setPresence")]
    assert statuses == [429, 200]  # the SDK retried; each request Graph answered is counted
    assert recorded("presence.graph.calls") == {
        frozenset({("action", "setPresence"), ("status", "429")}): 1,
        frozenset({("action", "setPresence"), ("status", "200")}): 1,
    }
    assert recorded("presence.graph.throttles") == {frozenset({("action", "setPresence")}): 1}


async def test_a_failed_renewal_counts_with_its_code(at_t0, graph, recorded):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    await graph.fault(method="POST", path="*/setPresence", status=403, count=1, code="Forbidden")
    await travel(services, graph, timedelta(hours=3, minutes=55))
    assert await services.holds.renew_due() == 1
    assert recorded("presence.renewals.failed") == {
        frozenset({("operation", "session.set"), ("code", "graphPermissionMissing")}): 1
    }
    assert recorded.total("presence.graph.calls", action="setPresence", status="403") == 1


def schedule(minutes_from_now: int, length: int) -> ScheduleInput:
    start = T0 + timedelta(minutes=minutes_from_now)
    return ScheduleInput(
        user=ALICE_ID,
        start=start.replace(tzinfo=None).isoformat(timespec="seconds"),
        end=(start + timedelta(minutes=length)).replace(tzinfo=None).isoformat(timespec="seconds"),
        time_zone="UTC",
        status_message=SECRET_MESSAGE,
    )


async def test_a_schedule_s_start_and_end_count_as_transitions(at_t0, graph, recorded):
    services = at_t0
    await services.schedules.create("test", schedule(1, 10), None)
    await travel(services, graph, timedelta(minutes=1))
    assert await services.engine.tick() == 1
    await travel(services, graph, timedelta(minutes=10))
    assert await services.engine.tick() == 1

    assert recorded("presence.schedules.transitions") == {
        frozenset({("kind", "start")}): 1,
        frozenset({("kind", "end")}): 1,
    }
    writes = await graph.journal(path="/setStatusMessage")
    assert writes
    assert recorded.total("presence.graph.calls", action="setStatusMessage", status="200") == len(writes)
    no_user_in(recorded)


async def test_a_schedule_failing_for_good_counts_and_logs_it(at_t0, graph, recorded, caplog):
    services = at_t0
    created = await services.schedules.create("test", schedule(1, 600), None)
    await graph.fault(method="POST", path="*/setStatusMessage", status=500, count=100)
    await travel(services, graph, timedelta(minutes=1))
    with caplog.at_level(logging.WARNING, logger="shared.schedules.timer"):
        for _ in range(services.settings.max_attempts):
            await services.engine.tick()
            await travel(services, graph, timedelta(minutes=20))  # past the longest back-off

    record, _ = await services.schedules.store.get(created.id)
    assert record is not None
    assert record.status == "failed"
    code = record.last_error.code if record.last_error else None
    attempts = services.settings.max_attempts
    assert recorded("presence.schedules.failures") == {
        frozenset({("kind", "start"), ("code", code)}): attempts
    }
    assert recorded("presence.schedules.failed_for_good") == {
        frozenset({("kind", "start"), ("code", code)}): 1
    }
    assert [r.getMessage() for r in caplog.records if "failed for good" in r.getMessage()] == [
        f"a schedule failed for good after {attempts} attempts ({code})"
    ]
    assert recorded.total("presence.schedules.transitions") == 0


async def test_watch_deliveries_and_a_disable_count(at_t0, graph, recorded, receiver):
    services = at_t0
    body = WatchInput.model_validate({"callbackUrl": receiver.url, "users": [ALICE_ID, BOB_ID]})
    created = await services.watches.create("test", body, services.watches.targets(body))
    await services.watcher.tick()  # the baseline
    await travel(services, graph, timedelta(minutes=1))
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    assert (await services.watcher.tick()).delivered == 1
    assert recorded("presence.watches.deliveries") == {frozenset({("outcome", "delivered")}): 1}
    assert len(receiver.received) == 1

    receiver.answer(410)
    await travel(services, graph, timedelta(minutes=1))
    await graph.add_session(ALICE_ID, "teams-desktop", "Away", "Away")
    await services.watcher.tick()

    assert (await services.watches.get(created.id))[0].status == "disabled"
    assert recorded("presence.watches.deliveries") == {
        frozenset({("outcome", "delivered")}): 1,
        frozenset({("outcome", "gone")}): 1,
    }
    assert recorded.total("presence.watches.disabled") == 1
    assert recorded.total("presence.graph.calls", action="getPresencesByUserId", status="200") == 3
    no_user_in(recorded)
