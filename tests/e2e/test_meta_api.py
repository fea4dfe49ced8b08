"""Health and the OpenAPI description, anonymous, through the local host."""

from __future__ import annotations

import asyncio

from localdev.stack import Stack

HEALTH_SECONDS = 30  # HEALTH_CHECK_SECONDS's default: the checks run at most once per this


async def test_health_is_ok_without_a_key(api, graph, clock):
    reply = await api.get("/api/health", key=None)
    assert (reply.status, reply.body) == (200, {"status": "ok", "checks": {"storage": "ok", "graph": "ok"}})


async def test_health_costs_graph_one_call_per_interval_whatever_the_traffic(api, graph, clock):
    await clock.advance(seconds=HEALTH_SECONDS)
    await graph.clear_journal()
    replies = await asyncio.gather(*(api.get("/api/health", key=None) for _ in range(300)))
    assert {r.status for r in replies} == {200}
    await clock.advance(seconds=HEALTH_SECONDS - 1)
    assert (await api.get("/api/health", key=None)).status == 200
    assert len(await graph.journal(path="getPresencesByUserId")) == 1
    await clock.advance(seconds=1)
    assert (await api.get("/api/health", key=None)).status == 200
    assert len(await graph.journal(path="getPresencesByUserId")) == 2


async def test_health_says_down_when_graph_fails_and_no_more(api, graph, clock):
    await graph.fault(method="*", path="*", status=503, count=1000, retry_after=0)
    await clock.advance(seconds=HEALTH_SECONDS)
    reply = await api.get("/api/health", key=None)
    assert reply.status == 503
    assert reply.body["code"] == "unhealthy"
    assert "checks" not in reply.body
    assert "graph" not in reply.body["detail"].lower()


async def test_health_says_down_when_azurite_is_stopped(api, graph, clock, stack: Stack):
    stack.azurite.stop()
    try:
        await clock.advance(seconds=HEALTH_SECONDS)
        reply = await api.get("/api/health", key=None)
        assert reply.status == 503
        assert reply.headers["Retry-After"] == str(HEALTH_SECONDS)
        assert "checks" not in reply.body
        assert "storage" not in reply.body["detail"].lower()
    finally:
        stack.azurite.start()
    await clock.advance(seconds=HEALTH_SECONDS)
    assert (await api.get("/api/health", key=None)).status == 200


async def test_openapi_describes_the_routes_for_this_host(api, stack: Stack):
    reply = await api.get("/api/openapi.json", key=None)
    assert reply.status == 200
    assert reply.body["swagger"] == "2.0"
    assert reply.body["host"] == f"127.0.0.1:{stack.host_port}"
    assert reply.body["schemes"] == ["http"]
    assert set(reply.body["paths"]) >= {"/users/{user}/presence", "/presence/query", "/health"}


async def test_the_connection_test_needs_the_key_and_costs_graph_nothing(api, graph):
    """ListTimeZones is the connector's "Test connection": a wrong key fails it, a right one passes, and
    neither costs a Graph call or a storage read."""
    assert (await api.get("/api/timezones", key=None)).status == 401
    assert (await api.get("/api/timezones", key="not-the-key")).status == 401
    reply = await api.get("/api/timezones")
    assert reply.status == 200
    names = {zone["id"]: zone["name"] for zone in reply.body["value"]}
    assert names["W. Europe Standard Time"] == "W. Europe Standard Time (Europe/Berlin)"
    assert "UTC" in names
    assert await graph.journal() == []


async def test_the_activity_list_offers_only_what_goes_with_the_availability(api, graph):
    reply = await api.get("/api/presence/activities?kind=session&availability=Busy")
    assert reply.status == 200
    assert reply.body["value"] == [
        {"activity": "InACall", "name": "In a call"},
        {"activity": "InAConferenceCall", "name": "In a conference call"},
    ]
    reply = await api.get("/api/presence/activities?kind=preferred&availability=Offline")
    assert reply.body["value"] == [{"activity": "OffWork", "name": "Off work"}]
    # An availability that cannot be set that way, or no kind: a 400 naming the parameter.
    reply = await api.get("/api/presence/activities?kind=session&availability=BeRightBack")
    assert (reply.status, reply.body["code"], reply.body["errors"][0]["field"]) == (
        400,
        "invalidPresence",
        "availability",
    )
    reply = await api.get("/api/presence/activities?availability=Busy")
    assert (reply.status, reply.body["errors"][0]["field"]) == (400, "kind")
    assert await graph.journal() == []
