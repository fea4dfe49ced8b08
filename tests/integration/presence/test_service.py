"""The presence reader, gateway and user cache against Azurite and the Graph emulator: what Graph received
is read from the emulator's journal, what was cached from the table itself."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableClient

from localdev.graph.demo import ALICE_ID
from shared.app import Services, build_services
from shared.platform.clock import Clock
from shared.platform.errors import ServiceError
from tests.integration.conftest import settings_for

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"

pytestmark = pytest.mark.usefixtures("both_readings")


async def test_a_upn_is_resolved_once_then_read_from_the_cache(services: Services, graph, azurite):
    first = await services.presence.read(ALICE)
    second = await services.presence.read("Alice@Contoso.test")

    assert first.user_id == second.user_id == ALICE_ID
    assert second.user == "Alice@Contoso.test"
    lookups = await graph.journal(path="/users/alice")
    assert [(e.method, e.status) for e in lookups if not e.path.endswith("/presence")] == [("GET", 200)]
    assert len(await graph.journal(path="/presence")) == 2
    table = TableClient.from_connection_string(azurite.connection_string, services.tables.name("UserCache"))
    async with table:
        rows = [row async for row in table.list_entities()]
    assert [(r["PartitionKey"], r["RowKey"], r["UserId"]) for r in rows] == [
        ("contoso.test", ALICE, first.user_id)
    ]


async def test_an_object_id_needs_no_directory_lookup(services: Services, graph):
    presence = await services.presence.read(ALICE_ID.upper())
    assert (presence.user, presence.user_id) == (ALICE_ID.upper(), ALICE_ID)
    assert [e.path for e in await graph.journal()] == [f"/v1.0/users/{ALICE_ID}/presence"]


async def test_presence_is_flattened_from_what_graph_shows(services: Services, graph):
    await graph.add_session(ALICE_ID, session_id="teams-desktop", availability="Busy", activity="InACall")
    presence = await services.presence.read(ALICE)
    assert (presence.availability, presence.activity, presence.out_of_office) == ("Busy", "InACall", False)
    assert presence.sequence_number


async def test_a_user_graph_does_not_know_is_user_not_found(services: Services, graph):
    with pytest.raises(ServiceError) as caught:
        await services.presence.read("nobody@contoso.test")
    assert (caught.value.status, caught.value.code) == (404, "userNotFound")
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(str(uuid.uuid4()))
    assert caught.value.code == "userNotFound"


@pytest.mark.parametrize("count", [1, 650, 651, 1500])
async def test_bulk_read_makes_ceil_n_over_650_graph_calls(services: Services, graph, count):
    seeded = await graph.seed_users([{"userPrincipalName": f"u{i}@bulk.test"} for i in range(count)])
    ids = [u["id"] for u in seeded]
    await graph.clear_journal()

    result = await services.presence.query(ids)

    calls = await graph.journal(path="/communications/getPresencesByUserId")
    assert len(calls) == math.ceil(count / 650)
    assert all(len(c.body["ids"]) <= 650 for c in calls)
    assert sorted(i for c in calls for i in c.body["ids"]) == sorted(ids)
    assert sorted(p.user_id for p in result.value) == sorted(ids)
    assert result.errors == []


async def test_bulk_read_reports_per_user_errors_and_answers_the_rest(services: Services, graph):
    unknown = str(uuid.uuid4())
    result = await services.presence.query(
        [ALICE, BOB, "nobody@contoso.test", "not a user", unknown, ALICE_ID]
    )

    assert [p.user for p in result.value] == [ALICE, BOB]  # alice's id is the same user: answered once
    assert {(e.user, e.status, e.code) for e in result.errors} == {
        ("nobody@contoso.test", 404, "userNotFound"),
        ("not a user", 400, "invalidUser"),
        (unknown, 404, "userNotFound"),
    }


async def test_known_users_are_answered_whether_graph_leaves_an_unknown_id_out_or_refuses_it(
    services: Services, graph, both_readings
):
    seeded = await graph.seed_users([{"userPrincipalName": f"u{i}@bulk.test"} for i in range(300)])
    ids = [u["id"] for u in seeded]
    unknown = [str(uuid.uuid4()) for _ in range(2)]
    await graph.clear_journal()

    result = await services.presence.query([*ids[:150], unknown[0], *ids[150:], unknown[1]])

    assert sorted(p.user_id for p in result.value) == sorted(ids)
    assert {(e.user, e.code) for e in result.errors} == {(u, "userNotFound") for u in unknown}
    calls = await graph.journal(path="/communications/getPresencesByUserId")
    reading = "omitted" if both_readings == "default" else "error"
    assert f"unknownPresenceIds={reading}" in calls[0].readings  # the reading really answered
    # Refused whole, the 302 ids are split around the two unknown ones: 2 x 2 x log2(302) calls at most.
    assert len(calls) == 1 if reading == "omitted" else 1 < len(calls) <= 4 * math.ceil(math.log2(302)) + 1


async def test_a_one_off_throttle_is_retried_by_the_sdk(services: Services, graph):
    await graph.fault(method="GET", path="*/presence", status=429, count=1, retry_after=1)
    presence = await services.presence.read(ALICE_ID)
    assert presence.user_id == ALICE_ID
    assert [e.status for e in await graph.journal(path="/presence")] == [429, 200]


async def test_persistent_throttling_is_a_429_with_retry_after(services: Services, graph):
    await graph.fault(method="GET", path="*/presence", status=429, count=100, retry_after=1)
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(ALICE_ID)
    assert (caught.value.status, caught.value.code) == (429, "graphThrottled")
    assert caught.value.headers["Retry-After"] == "1"  # Graph's own advice, passed on
    attempts = await graph.journal(path="/presence")
    assert len(attempts) == 4  # the first call and the SDK's three retries
    assert {e.status for e in attempts} == {429}


async def test_graph_unavailable_is_a_503(services: Services, graph):
    await graph.fault(method="GET", path="*/presence", status=503, count=100, retry_after=1)
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(ALICE_ID)
    assert (caught.value.status, caught.value.code) == (503, "graphUnavailable")


async def test_a_missing_permission_is_named(services: Services, graph):
    await graph.set_permissions(["User.ReadBasic.All"])
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(ALICE)
    assert (caught.value.status, caught.value.code) == (502, "graphPermissionMissing")
    assert "Presence.Read.All" in caught.value.detail

    await graph.set_permissions(["Presence.ReadWrite.All"])
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(BOB)
    assert "User.ReadBasic.All" in caught.value.detail


async def test_without_storage_upns_still_resolve_from_graph(azurite, emulator_url, graph):
    dead = azurite.connection_string.replace(f":{azurite.port}/", ":9/")
    built = build_services(settings_for(azurite, emulator_url, TABLES_CONNECTION_STRING=dead))
    try:
        presence = await built.presence.read(ALICE)
        assert presence.user_id == ALICE_ID
        assert await built.health.state() == {"storage": False, "graph": True}
    finally:
        await built.tables.close()


async def test_health_checks_both_at_most_once_per_interval(services: Services, graph, clock: Clock):
    clock.set_now(datetime.now(UTC), frozen=True)
    assert await services.health.state() == {"storage": True, "graph": True}
    await graph.fault(method="*", path="*", status=503, count=100, retry_after=0)
    clock.advance(timedelta(seconds=services.settings.health_check_seconds - 1))
    assert await services.health.state() == {"storage": True, "graph": True}  # the last check's result
    clock.advance(timedelta(seconds=1))
    assert await services.health.state() == {"storage": True, "graph": False}
    probes = [e for e in await graph.journal() if e.path.endswith("/getPresencesByUserId")]
    assert len(probes) == 2


@pytest.mark.parametrize(
    ("status", "up"), [(404, True), (400, True), (403, False), (401, False), (429, False)]
)
async def test_graph_is_up_when_it_answers_the_probe_about_its_id(services: Services, graph, status, up):
    """Whether Graph leaves the probe's unknown id out or refuses it, an answer about the id is an answer:
    health never depends on which."""
    await graph.fault(method="POST", path="*/getPresencesByUserId", status=status, count=1, retry_after=0)
    assert (await services.health.state())["graph"] is up


async def test_out_of_office_in_a_call_is_told_whichever_way_graph_shows_the_activity(
    services: Services, graph, both_readings
):
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InACall")
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "Back Monday"})
    await graph.clear_journal()

    one = await services.presence.read(ALICE_ID)
    [many] = (await services.presence.query([ALICE_ID])).value

    reading = "kept" if both_readings == "default" else "shown"
    activity = "InACall" if reading == "kept" else "OutOfOffice"
    for presence in (one, many):  # the activity is Graph's; outOfOffice is said either way
        assert (presence.availability, presence.activity) == ("Busy", activity)
        assert (presence.out_of_office, presence.out_of_office_message) == (True, "Back Monday")
    reads = await graph.journal()
    assert [e.readings for e in reads if e.status == 200] == [(f"outOfOfficeOverHeld={reading}",)] * 2
