"""The local host killed at random points of its ticks, again and again, through real processes: after
the restarts everything converges, and nothing reaches Graph twice (issue 7's fault runs)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest

from localdev.stack import Stack
from shared.holds.rules import CLAIM_LEASE

USERS = 12
KILLS = 4  # per transition: the starts, then the ends
# A kill lands after 1 to this many more Graph writes: a transition of USERS makes about two each.
MOST_WRITES_BEFORE_A_KILL = 8


async def kill_mid_tick(api, graph, stack: Stack, chance: random.Random) -> bool:
    """Run both timers and kill the host once Graph has taken a few more writes (how many drawn from
    `chance`): the kill falls between a tick's calls by what the tick has done, not after a real-time wait
    a faster or slower machine would place elsewhere. Start it again. True when the kill landed while a
    tick was still running (the ticks may have had fewer writes left, and finished first)."""
    kill_after = len(await graph.journal(method="POST")) + chance.randint(1, MOST_WRITES_BEFORE_A_KILL)
    ticks = asyncio.ensure_future(
        asyncio.gather(api.run_timer("apply_schedules"), api.run_timer("renew_sessions"))
    )
    for _ in range(3000):  # Graph's journal says what the ticks did, whatever time it took them
        if ticks.done() or len(await graph.journal(method="POST")) >= kill_after:
            break
        await asyncio.sleep(0.01)
    stack.kill_host()
    try:
        await ticks
    except (aiohttp.ClientError, AssertionError):
        return True
    finally:
        stack.start_host()
    return False


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 11])
async def test_a_host_killed_again_and_again_mid_tick_converges_and_writes_once(
    seed: int, api, graph, clock, stack: Stack
):
    chance = random.Random(seed)
    seeded = await graph.seed_users([{"userPrincipalName": f"kill{i}@contoso.test"} for i in range(USERS)])
    users = [u["id"] for u in seeded]
    notes = {user: f"Note {i}" for i, user in enumerate(users) if i % 2}
    for user, note in notes.items():
        await graph.set_status_message_as_user(user, note)
    start, end = clock.now + timedelta(minutes=10), clock.now + timedelta(hours=3)
    for i, user in enumerate(users):
        body = {
            "user": user,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "statusMessage": f"Offsite {i}",
            "presence": {"availability": "Busy", "activity": "InACall"},
        }
        assert (await api.post("/api/schedules", json=body)).status == 201
    await graph.latency(fixed_ms=100)  # calls slow enough for the kill to come before the next ones
    landed = 0
    try:
        for moment in (start, end):
            await clock.set(moment)
            for _ in range(KILLS):
                landed += await kill_mid_tick(api, graph, stack, chance)
                await clock.advance(minutes=CLAIM_LEASE.total_seconds() / 60 + 1)  # leases run out
            for _ in range(3):  # then undisturbed ticks, as many as back-off needs
                await api.run_timer("apply_schedules")
                await api.run_timer("renew_sessions")
                await clock.advance(minutes=2)
    finally:
        await graph.latency()

    assert landed >= 1  # at least one kill hit a tick in the middle
    sent = Counter(
        (e.path.split("/")[3], e.path.rsplit("/", 1)[-1], _content(e.body))
        for e in await graph.journal(method="POST")
        if e.path.startswith("/v1.0/users/") and e.status < 300
    )
    for i, user in enumerate(users):
        assert sent[(user, "setStatusMessage", f"Offsite {i}")] == 1, user
        if user in notes:
            assert sent[(user, "setStatusMessage", notes[user])] == 1, user
        state = await graph.user_state(user)
        assert ((state["statusMessage"] or {}).get("content") or None) == notes.get(user), user
    listed = await api.get("/api/schedules?top=200")
    assert {s["status"] for s in listed.body["value"]} == {"completed"}


def _content(body: dict) -> str:
    return str(body.get("statusMessage", {}).get("message", {}).get("content", body.get("availability", "")))
