"""The holding shell against Azurite and the emulator: claims, leases, storage outages, session ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import EmulatorControl, create_app
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.errors import ServiceError
from shared.holds import CLAIM_LEASE
from shared.models import SessionRequest
from shared.service import Services, build_services
from tests.integration.conftest import settings_for

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BUSY = SessionRequest(availability="Busy", activity="InACall", duration_minutes=480)


@pytest.fixture
async def at_t0(services: Services, graph: EmulatorControl) -> Services:
    services.clock.set_now(T0, frozen=True)
    await graph.set_clock(T0, frozen=True)
    return services


async def travel(services: Services, graph: EmulatorControl, delta: timedelta) -> None:
    services.clock.advance(delta)
    await graph.set_clock(services.clock.now(), frozen=True)


async def test_a_hold_claimed_by_a_worker_that_died_is_taken_over_after_the_lease(at_t0, graph):
    services = at_t0
    await services.holding.hold_session("test", ALICE_ID, BUSY)
    await travel(services, graph, timedelta(hours=3, minutes=55))
    # A worker claims the hold for its renewal, then dies before calling Graph.
    store = services.holding.store
    hold, etag = await store.get(ALICE_ID)
    now = services.clock.now()
    await store.save(replace(hold, claimed_until=now + CLAIM_LEASE), etag, now + CLAIM_LEASE)

    assert await services.holding.renew_due() == 0  # still claimed: nobody else calls Graph
    assert len(await graph.journal(path="/setPresence")) == 1
    await travel(services, graph, CLAIM_LEASE)
    assert await services.holding.renew_due() == 1
    sets = await graph.journal(path="/setPresence")
    assert [e.body["expirationDuration"] for e in sets] == ["PT4H", "PT4H"]
    assert (await services.holding.holds(ALICE_ID)).session.graph_expires_at == now + CLAIM_LEASE + timedelta(
        hours=4
    )


async def test_a_tick_reads_only_what_is_due(at_t0, graph):
    services = at_t0
    for user in (ALICE_ID, BOB_ID):
        await services.holding.hold_session("test", user, BUSY)
    await travel(services, graph, timedelta(minutes=30))
    assert await services.holding.store.timeline.due(services.clock.now()) == []
    await travel(services, graph, timedelta(hours=3, minutes=25))
    due = await services.holding.store.timeline.due(services.clock.now())
    assert sorted(e.ref for e in due) == sorted([ALICE_ID, BOB_ID])


async def test_without_storage_a_hold_is_refused_before_any_graph_call(azurite, emulator_url, graph):
    dead = azurite.connection_string.replace(f":{azurite.port}/", ":9/")
    built = build_services(settings_for(azurite, emulator_url, TABLES_CONNECTION_STRING=dead))
    try:
        with pytest.raises(ServiceError) as caught:
            await built.holding.hold_session("test", ALICE_ID, BUSY)
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
        await built.holding.hold_session("test", ALICE_ID, BUSY)
        async with EmulatorControl(url) as emulator:
            [call] = await emulator.journal(path="/setPresence")
        assert call.body["sessionId"] == app_id
    finally:
        await built.tables.close()
        await server.close()
