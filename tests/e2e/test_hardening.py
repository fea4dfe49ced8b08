"""Issue 15 through the local host: what one caller may make the service spend, and what a request may
claim about itself (its Host header)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, CAROL_ID, DAVE_ID
from localdev.stack import Stack
from tests.e2e.conftest import Api
from tests.e2e.test_callers import entra_stack, signed_in  # noqa: F401 (entra_stack: a fixture)

ALICE_UPN = "alice@contoso.test"
HOOK = "https://hooks.example.test/flow"
FORGED = {"Host": "attacker.example:443", "X-Forwarded-Host": "attacker.example"}


async def test_absolute_urls_come_from_the_apps_address_never_the_host_header(api, graph, stack: Stack):
    own = f"http://127.0.0.1:{stack.host_port}"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    schedule = {
        "user": ALICE_UPN,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "statusMessage": "Lunch",
    }
    for _ in range(2):
        created = await api.post("/api/schedules", json=schedule, headers=FORGED)
        assert created.status == 201, created.body
        assert created.headers["Location"] == f"{own}/api/schedules/{created.body['id']}"
    listed = await api.get("/api/schedules?top=1", headers=FORGED)
    assert listed.body["nextLink"].startswith(f"{own}/api/schedules?")
    watch = await api.post("/api/watches", json={"users": [ALICE_ID], "callbackUrl": HOOK}, headers=FORGED)
    assert watch.status == 201, watch.body
    assert watch.headers["Location"] == f"{own}/api/watches/{watch.body['id']}"
    document = await api.get("/api/openapi.json", key=None, headers=FORGED)
    assert (document.body["host"], document.body["schemes"]) == (f"127.0.0.1:{stack.host_port}", ["http"])


def in_two_days(hours: int = 0) -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2, hours=hours)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}


# --- JSON the parser cannot take (item 6) ----------------------------------------------------------------


async def test_a_number_of_5000_digits_is_a_400_naming_its_field(api, graph):
    body = '{"availability": "Busy", "activity": "InACall", "durationMinutes": ' + "9" * 5000 + "}"
    reply = await api.put(
        f"/api/users/{ALICE_UPN}/presence/session",
        data=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert (reply.status, reply.body["code"]) == (400, "invalidRequest")
    assert reply.body["errors"][0]["field"] == "durationMinutes"
    assert await graph.journal(method="POST") == []


async def test_json_nested_past_the_recursion_limit_is_a_400(api, graph):
    for depth in (2_000, 60_000):
        body = b'{"users": ' + b"[" * depth + b"]" * depth + b"}"
        reply = await api.post("/api/presence/query", data=body, headers={"content-type": "application/json"})
        assert (reply.status, reply.body["code"]) == (400, "invalidJson")
        assert reply.body["errors"] == [{"field": "body", "message": "The body's JSON is nested too deeply."}]


# --- a signed-in user pushing (items 1 and 4) ------------------------------------------------------------


@pytest.fixture
async def entra(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Api, EmulatorControl]]:
    stack: Stack = request.getfixturevalue("entra_stack")  # test_callers' fixture: one per module
    async with aiohttp.ClientSession() as session, EmulatorControl(stack.graph_url) as graph:
        await graph.reset()
        yield Api(session, stack.host_url), graph


def as_user(object_id: str, upn: str) -> dict[str, str]:
    return {"x-ms-client-principal": signed_in(object_id, upn)}


async def test_her_own_upn_10000_times_is_one_lookup_and_one_answer(entra):
    api, graph = entra
    alice = as_user(ALICE_ID, ALICE_UPN)
    users = [ALICE_UPN] * 9_998 + [ALICE_UPN.upper(), ALICE_ID]
    await graph.clear_journal()
    reply = await api.post("/api/presence/query", key=None, headers=alice, json={"users": users})
    assert reply.status == 200, reply.body
    assert [p["user"] for p in reply.body["value"]] == [ALICE_UPN]
    assert reply.body["errors"] == []
    assert reply.body["duplicates"] == [
        {"user": ALICE_UPN.upper(), "sameAs": ALICE_UPN},
        {"user": ALICE_ID, "sameAs": ALICE_UPN},
    ]
    journal = await graph.journal()
    assert len([e for e in journal if e.path.startswith("/v1.0/users/")]) == 1  # her UPN, once
    assert len([e for e in journal if e.path.endswith("/getPresencesByUserId")]) == 1
    assert len(journal) == 2

    await graph.clear_journal()
    watch = {"users": [ALICE_UPN] * 5_000 + [ALICE_ID, ALICE_UPN.upper()], "callbackUrl": HOOK}
    made = await api.post("/api/watches", key=None, headers=alice, json=watch)
    assert made.status == 201, made.body
    assert (made.body["users"], made.body["memberCount"]) == ([ALICE_UPN], 1)
    assert made.body["duplicates"] == [
        {"user": ALICE_ID, "sameAs": ALICE_UPN},
        {"user": ALICE_UPN.upper(), "sameAs": ALICE_UPN},
    ]
    assert await graph.journal() == []  # her UPN is cached now
    assert (await api.delete(f"/api/watches/{made.body['id']}", key=None, headers=alice)).status == 204


async def test_caps_hold_under_parallel_posts(entra):
    api, _ = entra
    carol = as_user(CAROL_ID, "carol@contoso.test")
    watch = {"users": [CAROL_ID], "callbackUrl": HOOK}
    replies = await asyncio.gather(
        *(api.post("/api/watches", key=None, headers=carol, json=watch) for _ in range(60))
    )
    assert sorted(r.status for r in replies) == [201] * 20 + [409] * 40
    assert {r.body["code"] for r in replies if r.status == 409} == {"tooManyWatches"}
    listed = await api.get("/api/watches?top=200", key=None, headers=carol)
    assert len(listed.body["value"]) == 20
    one = next(r for r in replies if r.status == 201).body["id"]
    assert (await api.delete(f"/api/watches/{one}", key=None, headers=carol)).status == 204
    assert (await api.post("/api/watches", key=None, headers=carol, json=watch)).status == 201

    dave = as_user(DAVE_ID, "dave@contoso.test")

    def schedule(n: int) -> dict[str, Any]:
        return {"user": DAVE_ID, **in_two_days(hours=n), "statusMessage": f"Focus {n}"}

    replies = await asyncio.gather(
        *(api.post("/api/schedules", key=None, headers=dave, json=schedule(n)) for n in range(150))
    )
    assert sorted(r.status for r in replies) == [201] * 100 + [409] * 50
    refused = [r.body for r in replies if r.status == 409]
    assert {(b["code"], b["field"]) for b in refused} == {("tooManySchedules", "user")}
    listed = await api.get(f"/api/schedules?user={DAVE_ID}&top=200", key=None, headers=dave)
    assert len(listed.body["value"]) == 100
