"""The holding shell against Azurite and the emulator: claims, leases, storage outages, session ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import EmulatorControl, create_app
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import PreferredRequest, SessionRequest, StatusMessageRequest
from shared.app import build_services
from shared.holds.rules import CLAIM_LEASE, Hold, MessageHold
from shared.platform.errors import ServiceError
from tests.integration.conftest import T0, settings_for, travel

BUSY = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)


async def test_a_hold_claimed_by_a_worker_that_died_is_taken_over_after_the_lease(at_t0, graph):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    await travel(services, graph, timedelta(hours=3, minutes=55))
    # A worker claims the hold for its renewal, then dies before calling Graph.
    store = services.holds.store
    hold, etag = await store.get(ALICE_ID)
    now = services.clock.now()
    await store.save(replace(hold, claimed_until=now + CLAIM_LEASE), etag, now + CLAIM_LEASE)

    assert await services.holds.renew_due() == 0  # still claimed: nobody else calls Graph
    assert len(await graph.journal(path="/setPresence")) == 1
    await travel(services, graph, CLAIM_LEASE)
    assert await services.holds.renew_due() == 1
    sets = await graph.journal(path="/setPresence")
    # Taken over at 3h55 + the 10-minute lease: the 8-hour hold has 3h55 left.
    assert [e.body["expirationDuration"] for e in sets] == ["PT4H", "PT3H55M"]
    assert (await services.holds.holds(ALICE_ID)).session.graph_expires_at == T0 + timedelta(hours=8)


async def test_a_tick_reads_only_what_is_due(at_t0, graph):
    services = at_t0
    for user in (ALICE_ID, BOB_ID):
        await services.holds.hold_session("test", user, BUSY)
    await travel(services, graph, timedelta(minutes=30))
    assert await services.holds.store.timeline.due(services.clock.now(), "hold") == []
    await travel(services, graph, timedelta(hours=3, minutes=25))
    due = await services.holds.store.timeline.due(services.clock.now(), "hold")
    assert sorted(e.ref for e in due) == sorted([ALICE_ID, BOB_ID])


async def test_without_storage_a_hold_is_refused_before_any_graph_call(azurite, emulator_url, graph):
    dead = azurite.connection_string.replace(f":{azurite.port}/", ":9/")
    built = build_services(settings_for(azurite, emulator_url, TABLES_CONNECTION_STRING=dead))
    try:
        with pytest.raises(ServiceError) as caught:
            await built.holds.hold_session("test", ALICE_ID, BUSY)
        assert (caught.value.status, caught.value.code) == (503, "storageUnavailable")
        assert "Retry-After" in caught.value.headers
        assert await graph.journal(method="POST") == []
    finally:
        await built.tables.close()


async def test_presence_session_id_setting_is_the_session_id(azurite):
    app_id = "0f0e0d0c-0b0a-4090-8070-605040302010"
    server = TestServer(create_app(app_id=app_id, users="demo"), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    built = build_services(settings_for(azurite, url, PRESENCE_SESSION_ID=app_id))
    try:
        await built.holds.hold_session("test", ALICE_ID, BUSY)
        async with EmulatorControl(url) as emulator:
            [call] = await emulator.journal(path="/setPresence")
        assert call.body["sessionId"] == app_id
    finally:
        await built.tables.close()
        await server.close()


async def test_a_hold_is_never_dropped_from_the_index_when_ticks_run_early_in_a_second(services, graph):
    services.clock.set_now(T0 + timedelta(milliseconds=700), frozen=True)
    await graph.set_clock(services.clock.now(), frozen=True)
    busy = SessionRequest(availability="Busy", activity="InACall", duration_minutes=300)
    await services.holds.hold_session("test", ALICE_ID, busy)
    # A tick in the same second as the renewal moment (3h55m0.7s), but earlier in it: not due yet, and
    # still indexed.
    services.clock.set_now(T0 + timedelta(hours=3, minutes=55, milliseconds=300), frozen=True)
    assert await services.holds.renew_due() == 0
    services.clock.set_now(T0 + timedelta(hours=3, minutes=56), frozen=True)
    await graph.set_clock(services.clock.now(), frozen=True)
    assert await services.holds.renew_due() == 1
    assert len(await graph.journal(path="/setPresence")) == 2


async def test_an_available_refresh_made_into_a_tick_is_due_on_the_minute_four_minutes_on(services, graph):
    # Refreshed 0.7 s into a tick: the tick four minutes on (even a moment earlier into its second) refreshes
    # it again, a minute before Graph would fade it, rather than the tick after, as Graph fades it.
    services.clock.set_now(T0 + timedelta(milliseconds=700), frozen=True)
    await graph.set_clock(services.clock.now(), frozen=True)
    available = SessionRequest(availability="Available", activity="Available", duration_minutes=15)
    await services.holds.hold_session("test", ALICE_ID, available)
    services.clock.set_now(T0 + timedelta(minutes=4, milliseconds=300), frozen=True)
    await graph.set_clock(services.clock.now(), frozen=True)
    assert await services.holds.renew_due() == 1
    assert (await graph.user_state(ALICE_ID))["availability"] == "Available"


async def test_graph_failing_midway_through_a_release_keeps_what_graph_did(at_t0, graph):
    services = at_t0
    dnd = PreferredRequest(availability="DoNotDisturb", activity="DoNotDisturb", duration_minutes=300)
    await services.holds.hold_preferred("test", ALICE_ID, dnd)
    await graph.fault(method="POST", path="*/clearPresence", status=500, count=1)
    with pytest.raises(ServiceError) as caught:
        await services.holds.release_preferred("test", ALICE_ID)
    assert caught.value.status == 502
    holds = await services.holds.holds(ALICE_ID)
    assert holds.preferred is None  # Graph did clear it: the records say so
    await travel(services, graph, timedelta(minutes=1))
    assert await services.holds.renew_due() == 1  # the session kept alive for it is let go now
    assert [e.status for e in await graph.journal(path="/clearPresence")] == [500, 200]
    assert (await graph.user_state(ALICE_ID))["sessions"] == []


async def test_a_callers_change_makes_only_its_own_calls(at_t0, graph):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    await travel(services, graph, timedelta(hours=3, minutes=56))  # a renewal is due, for the timer
    await services.holds.set_message("test", ALICE_ID, StatusMessageRequest(message="Lunch"))
    assert len(await graph.journal(path="/setPresence")) == 1
    assert len(await graph.journal(path="/setStatusMessage")) == 1
    assert await services.holds.renew_due() == 1
    assert len(await graph.journal(path="/setPresence")) == 2


async def test_a_status_message_claimed_by_a_worker_that_died_is_sent_by_the_next(at_t0, graph):
    services = at_t0
    store = services.holds.store
    intent = Hold(ALICE_ID, "alice", message=MessageHold("Lunch", None, "api", T0, in_graph=False))
    await store.save(replace(intent, claimed_until=T0 + CLAIM_LEASE), None, T0 + CLAIM_LEASE)
    await travel(services, graph, CLAIM_LEASE)
    assert await services.holds.renew_due() == 1
    [call] = await graph.journal(path="/setStatusMessage")
    assert call.body["statusMessage"]["message"]["content"] == "Lunch"
    assert (await store.get(ALICE_ID))[0].message.in_graph


async def test_releasing_a_session_keeps_the_session_a_preferred_presence_needs(at_t0, graph):
    services = at_t0
    await services.holds.hold_session("test", ALICE_ID, BUSY)
    away = PreferredRequest(availability="Away", activity="Away", duration_minutes=120)
    await services.holds.hold_preferred("test", ALICE_ID, away)
    await services.holds.release_session("test", ALICE_ID)
    assert [e.body["availability"] for e in await graph.journal(path="/setPresence")] == ["Busy", "Away"]
    assert await graph.journal(path="/clearPresence") == []
    assert (await graph.user_state(ALICE_ID))["availability"] == "Away"


async def test_clean_up_that_keeps_failing_is_given_up_after_max_attempts(at_t0, graph):
    services = at_t0
    short = SessionRequest(availability="Away", activity="Away", duration_minutes=30)
    await services.holds.hold_session("test", ALICE_ID, short)
    await graph.fault(method="POST", path="*/clearPresence", status=500, count=100)
    await travel(services, graph, timedelta(minutes=30))
    for _ in range(services.settings.max_attempts):
        assert await services.holds.renew_due() == 1
        await travel(services, graph, timedelta(minutes=16))  # past the longest back-off
    assert len(await graph.journal(path="/clearPresence")) == services.settings.max_attempts
    assert await services.holds.store.get(ALICE_ID) == (None, None)
    assert await services.holds.store.timeline.due(services.clock.now() + timedelta(days=8), "hold") == []


async def test_a_message_graph_already_shows_is_not_sent_twice_after_a_crash(at_t0, graph):
    services = at_t0
    store = services.holds.store
    # A worker claimed the intent, Graph took the message, and the worker died before recording it.
    await services.gateway.set_status_message(ALICE_ID, "Lunch", None)
    intent = Hold(ALICE_ID, "alice", message=MessageHold("Lunch", None, "api", T0, in_graph=False))
    await store.save(replace(intent, claimed_until=T0 + CLAIM_LEASE), None, T0 + CLAIM_LEASE)
    await travel(services, graph, CLAIM_LEASE)
    assert await services.holds.renew_due() == 1
    assert len(await graph.journal(path="/setStatusMessage")) == 1  # the one before the crash
    assert (await store.get(ALICE_ID))[0].message.in_graph
