"""GET /api/audit through the local host: every write path and every timer action is there, newest first,
filtered and paged; bad queries are a 400 that never reaches storage."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID

ALICE = f"/api/users/{ALICE_ID}"
BOB = f"/api/users/{BOB_ID}"


async def all_entries(api, query: str = "") -> list[dict]:
    """Every page, following nextLink."""
    entries: list[dict] = []
    path = f"/api/audit{query}"
    while path:
        reply = await api.get(path)
        assert reply.status == 200, reply.body
        entries += reply.body["value"]
        link = reply.body.get("nextLink")
        path = f"{urlparse(link).path}?{urlparse(link).query}" if link else ""
    return entries


async def test_every_write_path_and_timer_action_is_in_the_trail(api, graph, clock, rows):
    busy = {"availability": "Busy", "activity": "InACall"}
    assert (await api.put(f"{ALICE}/presence/session", json=busy)).status == 200
    assert (await api.delete(f"{ALICE}/presence/session")).status == 204
    preferred = {"availability": "Busy", "activity": "Busy", "keepSessionAlive": False}
    assert (await api.put(f"{ALICE}/presence/preferred", json=preferred)).status == 200
    assert (await api.delete(f"{ALICE}/presence/preferred")).status == 204
    assert (await api.put(f"{ALICE}/presence/status-message", json={"message": "Hi"})).status == 200
    assert (await api.delete(f"{ALICE}/presence/status-message")).status == 204
    start, end = clock.now + timedelta(minutes=10), clock.now + timedelta(minutes=20)
    window = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "statusMessage": "Workshop",
        "presence": busy,
    }
    created = await api.post("/api/schedules", json={"user": BOB_ID, **window})
    assert created.status == 201
    schedule = f"/api/schedules/{created.body['id']}"
    assert (await api.call("PATCH", schedule, json={"statusMessage": "Workshop, room 4"})).status == 200
    other = await api.post("/api/schedules", json={"user": ALICE_ID, **window})
    await api.put(f"/api/users/{CAROL_ID}/presence/session", json={**busy, "durationMinutes": 300})
    await clock.advance(minutes=10)
    await api.run_timer("apply_schedules")  # both start
    assert (await api.delete(f"/api/schedules/{other.body['id']}")).status == 204  # reverted at once
    await clock.advance(minutes=10)
    await api.run_timer("apply_schedules")  # Bob's ends
    await clock.advance(hours=3, minutes=45)
    await api.run_timer("renew_sessions")  # Carol's 5-hour session is renewed
    await api.run_timer("purge_history")

    entries = await all_entries(api, "?top=3")
    operations = {(e["caller"].split(":")[0], e["operation"]) for e in entries}
    assert operations >= {
        ("function-key", op)
        for op in (
            "session.set",
            "session.clear",
            "preferred.set",
            "preferred.clear",
            "statusMessage.set",
            "statusMessage.clear",
            "schedule.create",
            "schedule.update",
            "schedule.cancel",
        )
    } | {
        ("timer", "schedule.start"),
        ("timer", "schedule.end"),  # Bob's at its end; Alice's when cancelled, before DELETE answered
        ("timer", "session.set"),
        ("timer", "history.purge"),
    }
    assert len(entries) == len(await rows("Audit"))  # all of it is readable, each entry once
    instants = [e["at"] for e in entries]
    assert instants == sorted(instants, reverse=True)
    assert all(e["outcome"] == "ok" for e in entries)
    assert all("Workshop" not in str(e) for e in entries)  # message bodies stay out of the trail


async def test_filters_and_pages_across_days(api, graph, clock):
    message = {"message": "Day"}
    for _ in range(3):
        for who in (ALICE, BOB):
            assert (await api.put(f"{who}/presence/status-message", json=message)).status == 200
        await clock.advance(days=1)
    alice = await all_entries(api, f"?user={ALICE_ID}&top=2")
    assert [e["userId"] for e in alice] == [ALICE_ID] * 3
    assert [e["at"] for e in alice] == sorted((e["at"] for e in alice), reverse=True)
    by_upn = await all_entries(api, "?user=alice@contoso.test")
    assert by_upn == alice

    second_day = (clock.now - timedelta(days=2)).replace(hour=0, minute=0)
    middle = await all_entries(
        api,
        f"?from={second_day.isoformat().replace('+00:00', 'Z')}"
        f"&to={(second_day + timedelta(hours=23)).isoformat().replace('+00:00', 'Z')}&top=1",
    )
    assert len(middle) == 2
    assert {e["userId"] for e in middle} == {ALICE_ID, BOB_ID}
    assert len(await all_entries(api)) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?top=0", "top"),
        ("?top=201", "top"),
        ("?top=%C2%B2", "top"),  # a superscript two: a digit to str.isdigit, not to int()
        ("?from=2026-11-23T08:00:00", "from"),
        ("?from=yesterday", "from"),
        ("?to=2026-11-23T08:00:00Z&from=2026-11-24T08:00:00Z", "from"),
        ("?after=20261123|'%20or%20''='", "after"),
        ("?user=x'%20or%20UserId%20ne%20'", "user"),
        ("?user=alice@contoso.test'%20or%20'1'%20eq%20'1", "user"),
    ],
)
async def test_a_bad_query_is_a_400_naming_the_parameter(api, graph, clock, query, field):
    reply = await api.get(f"/api/audit{query}")
    assert reply.status == 400, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.body["errors"][0]["field"] == field
    assert await graph.journal() == []  # not even a user lookup
