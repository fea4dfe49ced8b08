"""Schedules under faults, through real processes: two hosts ticking the same tables at once, and a host
killed in the middle of a tick and started again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID
from localdev.stack import Stack
from shared.holds.rules import CLAIM_LEASE
from shared.schedules.store import record_from_entity
from tests.e2e.conftest import Api, another_host

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def second_host(stack: Stack) -> AsyncIterator[Api]:
    """Another local host on the same Azurite tables and the same Graph emulator: a second instance."""
    async with another_host(stack, "host2.log") as host:
        yield host


async def set_host_clock(api: Api, now: datetime) -> None:
    reply = await api.put("/admin/clock", json={"now": now.isoformat(), "frozen": True})
    assert reply.status == 200, reply.body


async def service_writes(graph, action: str) -> list:
    return [e for e in await graph.journal(path=f"/{action}") if e.status == 200 and "/users/" in e.path]


async def test_two_hosts_ticking_the_same_tables_apply_each_start_once(api, second_host, graph, clock):
    for user in (ALICE_ID, BOB_ID, CAROL_ID):
        body = {
            "user": user,
            "start": "2026-11-23T09:00:00Z",
            "end": "2026-11-23T10:00:00Z",
            "statusMessage": f"Focus ({user[:4]})",
            "presence": {"availability": "Busy", "activity": "InACall"},
        }
        assert (await api.post("/api/schedules", json=body)).status == 201
    await clock.set(START)
    await set_host_clock(second_host, START)
    await asyncio.gather(
        *(host.run_timer("apply_schedules") for host in (api, second_host, api, second_host))
    )

    assert len(await service_writes(graph, "setStatusMessage")) == 3
    assert len(await service_writes(graph, "setPresence")) == 3
    for host in (api, second_host):
        listed = (await host.get("/api/schedules?status=active")).body["value"]
        assert len(listed) == 3


async def test_a_host_killed_mid_tick_is_taken_over_after_its_lease(api, graph, clock, rows, stack: Stack):
    body = {
        "user": ALICE_ID,
        "start": "2026-11-23T09:00:00Z",
        "end": "2026-11-23T12:00:00Z",
        "statusMessage": "Offsite",
    }
    created = (await api.post("/api/schedules", json=body)).body
    await clock.set(START)
    # The tick reads what Alice shows before it sets anything: hold that read, and kill the host then.
    await graph.fault(method="GET", path=f"/users/{ALICE_ID}/presence", status=None, delay_ms=5000, count=1)
    tick = asyncio.create_task(api.run_timer("apply_schedules"))
    for _ in range(100):  # until the tick has claimed the schedule and is waiting on Graph
        if any(record_from_entity(row).engine.claimed_until for row in await rows("Schedules")):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the tick never claimed the schedule")
    for _ in range(100):  # until the read reached Graph, which holds it (its fault rule is taken)
        if not (await graph.faults())["rules"]:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the tick's read never reached Graph")
    stack.kill_host()
    with pytest.raises(aiohttp.ClientError):
        await tick
    stack.start_host()
    assert await service_writes(graph, "setStatusMessage") == []

    await clock.set(START + timedelta(minutes=1))  # the claim is still held: nobody acts
    await api.run_timer("apply_schedules")
    assert await service_writes(graph, "setStatusMessage") == []
    await clock.set(START + CLAIM_LEASE + timedelta(minutes=1))
    await api.run_timer("apply_schedules")
    [sent] = await service_writes(graph, "setStatusMessage")
    assert sent.body["statusMessage"]["message"]["content"] == "Offsite"
    schedule = (await api.get(f"/api/schedules/{created['id']}")).body
    assert (schedule["status"], schedule["lastError"]) == ("active", None)
    # The read the emulator held when the host died is answered 5 s after it came: let it land in this
    # test's journal, not in the next test's.
    if not (await graph.faults())["rules"]:
        for _ in range(100):
            if any(e.fault and e.fault["delayMs"] == 5000 for e in await graph.journal(method="GET")):
                break
            await asyncio.sleep(0.1)
