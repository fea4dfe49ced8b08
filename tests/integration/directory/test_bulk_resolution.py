"""Bulk reads by UPN against Azurite and the Graph emulator: UPNs resolve through the cache and Graph's JSON
batching (20 lookups per `$batch`), presence is read 650 ids per call, and a user that fails is a per-user
error while the others are answered. What Graph received is read from the emulator's journal."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest
from azure.data.tables.aio import TableClient

from localdev.graph import JournalEntry
from shared.app import Services, build_services
from shared.directory.store import UserCache
from shared.platform.graph import BATCH_RETRY_ROUNDS
from tests.integration.conftest import settings_for

# Four domains (four cache partitions): three read by range queries, one small enough for point reads.
DOMAINS = {"alpha.test": 400, "beta.test": 300, "gamma.test": 260, "delta.test": 40}
SELECT = {"$select": "id,userPrincipalName"}

pytestmark = pytest.mark.usefixtures("both_readings")


async def seed_directory(graph, sizes: dict[str, int]) -> dict[str, str]:
    """UPN -> object id of the users added to the emulator's directory."""
    users = [
        {"userPrincipalName": f"user{n:04d}@{domain}"}
        for domain, count in sizes.items()
        for n in range(count)
    ]
    return {u["userPrincipalName"]: u["id"] for u in await graph.seed_users(users)}


def envelopes(journal: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in journal if e.path == "/v1.0/$batch"]


def inner_lookups(journal: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in journal if e.batch_request_id is not None]


def direct_user_calls(journal: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in journal if e.path.startswith("/v1.0/users/") and e.batch_request_id is None]


def presence_reads(journal: list[JournalEntry]) -> list[JournalEntry]:
    return [e for e in journal if e.path == "/v1.0/communications/getPresencesByUserId"]


async def cached_rows(azurite, services: Services) -> list[dict]:
    table = TableClient.from_connection_string(azurite.connection_string, services.tables.name("UserCache"))
    async with table:
        return [row async for row in table.list_entities()]


async def test_a_cold_query_resolves_upns_in_batches_of_twenty_and_caches_them(
    services: Services, graph, azurite, both_readings
):
    directory = await seed_directory(graph, DOMAINS)
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert result.errors == []
    assert {p.user: p.user_id for p in result.value} == directory
    journal = await graph.journal()
    batches = envelopes(journal)
    assert len(batches) == math.ceil(len(directory) / 20)
    assert all(1 <= len(b.body["requests"]) <= 20 and b.status == 200 for b in batches)
    order = "shuffled" if both_readings == "default" else "given"  # Graph may answer in any order
    assert all(b.readings == (f"batchOrder={order}",) for b in batches if len(b.body["requests"]) > 1)
    lookups = inner_lookups(journal)
    assert sorted(e.path for e in lookups) == sorted(f"/v1.0/users/{upn}" for upn in directory)  # each once
    assert {(e.method, e.status) for e in lookups} == {("GET", 200)}
    assert all(e.query == SELECT for e in lookups)
    assert direct_user_calls(journal) == []
    assert len(presence_reads(journal)) == math.ceil(len(directory) / 650)

    rows = await cached_rows(azurite, services)
    assert sorted((r["PartitionKey"], r["RowKey"], r["UserId"]) for r in rows) == sorted(
        (upn.split("@")[1], upn, user_id) for upn, user_id in directory.items()
    )


async def test_a_warm_query_reads_every_upn_from_the_cache(services: Services, graph):
    directory = await seed_directory(graph, DOMAINS)
    first = await services.presence.query(list(directory))
    await graph.clear_journal()

    second = await services.presence.query([upn.upper() for upn in directory])

    assert second.errors == []
    assert sorted(p.user_id for p in second.value) == sorted(p.user_id for p in first.value)
    journal = await graph.journal()
    assert [e for e in journal if "/users" in e.path or e.path == "/v1.0/$batch"] == []
    assert len(presence_reads(journal)) == len(journal) == math.ceil(len(directory) / 650)


async def test_an_expired_cache_row_is_looked_up_again(services: Services, graph, clock):
    directory = await seed_directory(graph, {"alpha.test": 60})
    await services.presence.query(list(directory))
    clock.advance(timedelta(hours=25))  # USER_CACHE_HOURS is 24
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert len(result.value) == 60
    assert len(inner_lookups(await graph.journal())) == 60


async def test_a_few_users_of_a_big_cached_domain_are_found(services: Services, graph):
    # 60 wanted UPNs with 34 other cached users sorting between each two of them: the range query's first
    # full page holds fewer than 50 wanted rows, so the cache point-reads the rest. All come from the cache.
    directory = await seed_directory(graph, {"alpha.test": 60})
    others = {f"user{n:04d}-{k:02d}@alpha.test": str(uuid.uuid4()) for n in range(60) for k in range(34)}
    cached = others | directory
    await UserCache(services.tables).put_many(cached, services.clock.now(), timedelta(hours=1))
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert {p.user: p.user_id for p in result.value} == directory
    assert [e for e in await graph.journal() if "/users" in e.path or e.path == "/v1.0/$batch"] == []


async def test_unknown_and_invalid_users_are_per_user_errors_and_the_rest_are_answered(
    services: Services, graph
):
    directory = await seed_directory(graph, {"alpha.test": 30})
    ghosts = [f"ghost{n}@alpha.test" for n in range(5)]
    unknown_id = str(uuid.uuid4())
    await graph.clear_journal()

    result = await services.presence.query([*directory, *ghosts, "not a user", unknown_id, ""])

    assert {p.user: p.user_id for p in result.value} == directory
    assert {(e.user, e.status, e.code) for e in result.errors} == {
        *((ghost, 404, "userNotFound") for ghost in ghosts),
        ("not a user", 400, "invalidUser"),
        (unknown_id, 404, "userNotFound"),
        ("", 400, "invalidUser"),
    }
    # The ghosts are looked up once more by mail and proxyAddresses (an alias is no UPN).
    assert len(envelopes(await graph.journal())) == math.ceil(35 / 20) + math.ceil(5 / 20)


async def test_a_guest_upn_travels_with_its_hash_encoded(services: Services, graph):
    guest, tagged = "adele_adatum.com#EXT#@alpha.test", "o'neil+team@alpha.test"
    directory = {
        u["userPrincipalName"]: u["id"]
        for u in await graph.seed_users([{"userPrincipalName": guest}, {"userPrincipalName": tagged}])
    }

    result = await services.presence.query([guest, tagged])

    assert {p.user: p.user_id for p in result.value} == directory
    [batch] = envelopes(await graph.journal())
    assert sorted(r["url"] for r in batch.body["requests"]) == [
        "/users/adele_adatum.com%23ext%23@alpha.test?$select=id,userPrincipalName",  # UPNs are normalized
        "/users/o%27neil%2Bteam@alpha.test?$select=id,userPrincipalName",
    ]


async def test_one_upn_is_one_direct_lookup_not_a_batch(services: Services, graph):
    await services.presence.query(["alice@contoso.test", "B0B00000-0000-4000-8000-000000000002"])
    journal = await graph.journal()
    assert envelopes(journal) == []
    assert [(e.path, e.query) for e in direct_user_calls(journal)] == [
        ("/v1.0/users/alice@contoso.test", {"$select": "id"})
    ]


async def test_an_inner_throttle_is_retried_for_just_those_users(services: Services, graph):
    directory = await seed_directory(graph, {"alpha.test": 100})
    throttled = ["user0003@alpha.test", "user0047@alpha.test", "user0088@alpha.test"]
    for upn in throttled:
        await graph.fault(f"/users/{upn}", status=429, method="GET", count=1, retry_after=1)
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert result.errors == []
    assert len(result.value) == 100
    journal = await graph.journal()
    batches = envelopes(journal)
    assert len(batches) == math.ceil(100 / 20) + 1
    assert sorted(r["url"].split("?")[0] for r in batches[-1].body["requests"]) == [
        f"/users/{u}" for u in throttled
    ]
    for upn in throttled:
        first, again = [e for e in inner_lookups(journal) if e.path == f"/v1.0/users/{upn}"]
        assert (first.status, again.status) == (429, 200)
        assert again.at - first.at >= timedelta(seconds=1)  # Graph's Retry-After was honoured
    lookups = [e.path for e in inner_lookups(journal) if e.status == 200]
    assert len(lookups) == len(set(lookups)) == 100


@pytest.mark.parametrize(("status", "code"), [(429, "graphThrottled"), (503, "graphUnavailable")])
async def test_a_persistent_inner_fault_is_a_per_user_error(services: Services, graph, status, code):
    directory = await seed_directory(graph, {"alpha.test": 40})
    failing = ["user0005@alpha.test", "user0030@alpha.test"]
    for upn in failing:
        await graph.fault(f"/users/{upn}", status=status, method="GET", count=100, retry_after=0)
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert sorted(p.user for p in result.value) == sorted(set(directory) - set(failing))
    assert sorted((e.user, e.status, e.code) for e in result.errors) == [(u, status, code) for u in failing]
    assert all(e.status == status for e in result.errors)
    journal = await graph.journal()
    for upn in failing:
        attempts = [e.status for e in inner_lookups(journal) if e.path == f"/v1.0/users/{upn}"]
        assert attempts == [status] * (1 + BATCH_RETRY_ROUNDS)


async def test_a_missing_directory_permission_is_named_for_each_user(services: Services, graph):
    await graph.set_permissions(["Presence.ReadWrite.All"])
    result = await services.presence.query(["alice@contoso.test", "bob@contoso.test", "carol@contoso.test"])
    assert result.value == []
    assert {(e.status, e.code) for e in result.errors} == {(502, "graphPermissionMissing")}
    assert all("User.ReadBasic.All" in e.message for e in result.errors)


async def test_a_throttled_batch_call_is_retried_by_the_sdk(services: Services, graph):
    directory = await seed_directory(graph, {"alpha.test": 30})
    await graph.fault("/$batch", status=429, method="POST", count=1, retry_after=1)
    await graph.clear_journal()

    result = await services.presence.query(list(directory))

    assert len(result.value) == 30
    assert sorted(b.status for b in envelopes(await graph.journal())) == [200, 200, 429]


async def test_without_storage_a_bulk_query_resolves_from_graph_alone(azurite, emulator_url, graph):
    directory = await seed_directory(graph, {"alpha.test": 40})
    dead = azurite.connection_string.replace(f":{azurite.port}/", ":9/")
    built = build_services(settings_for(azurite, emulator_url, TABLES_CONNECTION_STRING=dead))
    try:
        result = await built.presence.query(list(directory))
    finally:
        await built.tables.close()
    assert {p.user: p.user_id for p in result.value} == directory
    assert len(envelopes(await graph.journal())) == 2


async def test_unknown_upns_are_remembered_for_a_few_minutes_and_cost_graph_nothing_meanwhile(
    services: Services, graph, clock
):
    ghosts = [f"ghost{n:04d}@alpha.test" for n in range(2000)]
    first = await services.presence.query(ghosts)
    assert {(e.status, e.code) for e in first.errors} == {(404, "userNotFound")}
    assert len(first.errors) == 2000
    await graph.clear_journal()

    again = await services.presence.query([g.upper() for g in ghosts])

    assert [(e.user, e.code) for e in again.errors] == [(g.upper(), "userNotFound") for g in ghosts]
    assert await graph.journal() == []
    clock.advance(timedelta(minutes=services.settings.user_cache_miss_minutes))  # then asked again
    await graph.seed_users([{"userPrincipalName": "ghost0007@alpha.test"}])
    later = await services.presence.query(ghosts)
    assert [p.user for p in later.value] == ["ghost0007@alpha.test"]
    assert len(envelopes(await graph.journal())) == 100 + 100  # by UPN, then the 1,999 others by mail


async def test_a_throttled_lookup_is_not_remembered_as_unknown(services: Services, graph):
    await graph.fault("/users/alice@contoso.test", status=429, method="GET", count=100, retry_after=0)
    result = await services.presence.query(["alice@contoso.test", "bob@contoso.test"])
    assert [(e.user, e.code) for e in result.errors] == [("alice@contoso.test", "graphThrottled")]
    await graph.clear_faults()
    assert [p.user for p in (await services.presence.query(["alice@contoso.test"])).value] == [
        "alice@contoso.test"
    ]


async def test_a_user_named_many_ways_is_looked_up_and_answered_once(services: Services, graph):
    alice = "alice@contoso.test"
    alice_id = "a11ce000-0000-4000-8000-000000000001"
    users = [alice] * 3000 + [alice.upper(), alice_id.upper(), alice_id, "nobody@contoso.test"] * 500
    users += ["not a user"] * 500
    await graph.clear_journal()

    result = await services.presence.query(users)

    assert [(p.user, p.user_id) for p in result.value] == [(alice, alice_id)]
    assert [(e.user, e.code) for e in result.errors] == [
        ("not a user", "invalidUser"),
        ("nobody@contoso.test", "userNotFound"),
    ]
    assert [(d.user, d.same_as) for d in result.duplicates] == [
        (alice.upper(), alice),
        (alice_id.upper(), alice),
        (alice_id, alice),
    ]
    journal = await graph.journal()
    assert len(envelopes(journal)) == 2  # alice and nobody: one $batch of two, then nobody by mail
    assert len(inner_lookups(journal)) == 3
    assert len(presence_reads(journal)) == 1
