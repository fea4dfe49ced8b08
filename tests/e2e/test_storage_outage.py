"""Azurite stopped and started again mid-run, through the local host: meanwhile every call that needs
storage is a 503 problem with Retry-After and reaches Graph with no write; the timers fail their ticks
without losing anything; once storage is back they catch up, and each change reaches Graph once."""

from __future__ import annotations

from datetime import timedelta

from localdev.graph.demo import ALICE_ID, BOB_ID
from localdev.stack import Stack

ALICE = f"/api/users/{ALICE_ID}"
BUSY = {"availability": "Busy", "activity": "InACall"}


async def graph_writes(graph) -> list[tuple[str, str]]:
    return [
        (
            e.path.rsplit("/", 1)[-1],
            str(e.body.get("statusMessage", {}).get("message", {}).get("content", "")),
        )
        for e in await graph.journal(method="POST")
        if e.path.startswith("/v1.0/users/") and e.status < 300
    ]


async def test_storage_down_is_503_with_no_graph_write_and_the_timers_catch_up(
    api, graph, clock, stack: Stack
):
    await graph.set_status_message_as_user(ALICE_ID, "Own note")
    start, end = clock.now + timedelta(minutes=10), clock.now + timedelta(minutes=40)
    schedule = {
        "user": ALICE_ID,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "statusMessage": "Workshop",
        "presence": BUSY,
    }
    assert (await api.post("/api/schedules", json=schedule)).status == 201
    assert (
        await api.put(f"/api/users/{BOB_ID}/presence/session", json={**BUSY, "durationMinutes": 600})
    ).status == 200
    before = await graph_writes(graph)

    stack.azurite.stop()
    try:
        refused = [
            await api.put(f"{ALICE}/presence/session", json=BUSY),
            await api.put(f"{ALICE}/presence/status-message", json={"message": "Hi"}),
            await api.post("/api/schedules", json=schedule),
            await api.get("/api/schedules"),
            await api.get(f"{ALICE}/presence/holds"),
            await api.get("/api/audit"),
        ]
        for reply in refused:
            assert reply.status == 503, reply.body
            assert reply.content_type == "application/problem+json"
            assert reply.body["code"] == "storageUnavailable"
            assert reply.headers["Retry-After"].isdigit()
        # The occurrence starts, and Bob's session would be renewed, while storage is down: the ticks fail.
        await clock.advance(minutes=15)
        for timer in ("apply_schedules", "renew_sessions"):
            await api.post(f"/admin/functions/{timer}", json={"input": ""})
        assert await graph_writes(graph) == before  # nothing reached Graph that could not be recorded
    finally:
        stack.azurite.start()

    await api.run_timer("apply_schedules")  # a late start: the occurrence still runs until 08:40
    await api.run_timer("renew_sessions")
    await clock.advance(minutes=30)
    await api.run_timer("apply_schedules")
    await api.run_timer("renew_sessions")
    after = (await graph_writes(graph))[len(before) :]
    assert after.count(("setStatusMessage", "Workshop")) == 1
    assert after.count(("setPresence", "")) == 1
    assert after.count(("setStatusMessage", "Own note")) == 1  # put back, once
    assert (await api.get(f"{ALICE}/presence")).body["statusMessage"] == "Own note"
    listed = await api.get(f"/api/schedules?user={ALICE_ID}")
    assert [s["status"] for s in listed.body["value"]] == ["completed"]
