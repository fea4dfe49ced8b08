"""E-mail addresses that are no UPN, against Azurite and the Graph emulator: after the UPN lookups found
nothing, the address is looked up by `mail` and `proxyAddresses` in `$batch` calls of 20, cached like a
UPN; an address two users have is a 409 `ambiguousUser`. What Graph received is read from its journal."""

from __future__ import annotations

import math

import pytest
from azure.data.tables.aio import TableClient

from shared.app import Services
from shared.directory.ids import parse_user
from shared.platform.errors import ServiceError

pytestmark = pytest.mark.usefixtures("both_readings")


def inner(journal, path: str) -> list:
    return [e for e in journal if e.batch_request_id is not None and e.path == path]


async def seed_with_aliases(graph, count: int) -> dict[str, str]:
    """alias -> object id of `count` users whose alias differs from their UPN and mail."""
    users = [
        {
            "userPrincipalName": f"u{n:03d}@corp.test",
            "mail": f"u{n:03d}@corp.test",
            "proxyAddresses": [f"SMTP:u{n:03d}@corp.test", f"smtp:first.last{n:03d}@mail.test"],
        }
        for n in range(count)
    ]
    seeded = await graph.seed_users(users)
    return {f"first.last{n:03d}@mail.test": u["id"] for n, u in enumerate(seeded)}


async def test_aliases_resolve_by_mail_in_batches_and_are_cached(
    services: Services, graph, azurite, both_readings
):
    aliases = await seed_with_aliases(graph, 45)
    await graph.clear_journal()

    result = await services.presence.query(list(aliases))

    assert result.errors == []
    assert {p.user: p.user_id for p in result.value} == aliases
    journal = await graph.journal()
    batches = [e for e in journal if e.path == "/v1.0/$batch"]
    assert len(batches) == 2 * math.ceil(45 / 20)
    order = "shuffled" if both_readings == "default" else "given"  # answers matched by id either way
    assert all(b.readings == (f"batchOrder={order}",) for b in batches if len(b.body["requests"]) > 1)
    table = TableClient.from_connection_string(azurite.connection_string, services.tables.name("UserCache"))
    async with table:
        cached = {row["RowKey"]: row["UserId"] async for row in table.list_entities()}
    assert cached == aliases  # each alias cached with its own user, whichever order Graph answered in
    assert len(inner(journal, "/v1.0/users")) == 45  # each alias once by mail, after its UPN 404
    by_mail = inner(journal, "/v1.0/users")[0]
    assert by_mail.query["$filter"].startswith("mail eq '")
    assert "proxyAddresses/any(x:x eq 'smtp:" in by_mail.query["$filter"]
    # Graph serves `eq` on both by default: no advanced query, whose answers are only eventually consistent.
    assert "$count" not in by_mail.query
    assert "consistencylevel" not in {name.lower() for name in by_mail.headers}

    await graph.clear_journal()
    again = await services.presence.query([a.upper() for a in aliases])
    assert sorted(p.user_id for p in again.value) == sorted(aliases.values())
    assert [e for e in await graph.journal() if "/users" in e.path or e.path == "/v1.0/$batch"] == []


async def test_one_alias_is_one_lookup_by_mail_then_cached(services: Services, graph):
    await graph.clear_journal()
    alias = parse_user("alice.adams@contoso.test")
    user_id = await services.directory.resolve(alias)
    journal = await graph.journal()
    assert [(e.path, e.status) for e in journal if "/users" in e.path] == [
        ("/v1.0/users/alice.adams@contoso.test", 404),
        ("/v1.0/users", 200),
    ]
    [by_mail] = [e for e in journal if e.path == "/v1.0/users"]
    assert "$count" not in by_mail.query
    assert "consistencylevel" not in {name.lower() for name in by_mail.headers}
    await graph.clear_journal()
    assert await services.directory.resolve(alias) == user_id
    assert await graph.journal() == []


async def test_an_address_two_users_have_is_ambiguous(services: Services, graph):
    shared = ["smtp:team@corp.test"]
    await graph.seed_users(
        [
            {"userPrincipalName": "x@corp.test", "proxyAddresses": shared},
            {"userPrincipalName": "y@corp.test", "mail": "team@corp.test"},
        ]
    )
    result = await services.presence.query(["team@corp.test", "nobody@corp.test"])
    assert {(e.user, e.status, e.code) for e in result.errors} == {
        ("team@corp.test", 409, "ambiguousUser"),
        ("nobody@corp.test", 404, "userNotFound"),
    }
    with pytest.raises(ServiceError) as raised:
        await services.directory.resolve(parse_user("team@corp.test"))
    assert (raised.value.status, raised.value.code) == (409, "ambiguousUser")
