"""Injected faults (counted, globbed, random with a seed) and added latency."""

from __future__ import annotations

import asyncio

import pytest

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID, EmulatorControlError
from localdev.graph.faults import Latency

PRESENCE = f"/users/{ALICE_ID}/presence"
SET_PRESENCE = {"sessionId": LOOPBACK_APP_ID, "availability": "Busy", "activity": "InACall"}


async def test_a_fault_answers_the_next_n_matching_calls_then_stops(graph, control):
    await control.fault("*/presence", status=429, count=2)
    statuses = [(await graph.get(PRESENCE)).status for _ in range(3)]
    assert statuses == [429, 429, 200]


async def test_a_429_fault_is_graph_shaped_with_retry_after_one_second_by_default(graph, control):
    await control.fault("*/presence", status=429)
    response = await graph.get(PRESENCE)
    body = await graph.json(response)
    assert response.headers["Retry-After"] == "1"
    assert body["error"]["code"] == "TooManyRequests"
    assert body["error"]["innerError"]["request-id"] == response.headers["request-id"]


async def test_a_fault_sends_the_retry_after_it_was_given(graph, control):
    await control.fault("*/presence", status=503, retry_after=7)
    response = await graph.get(PRESENCE)
    assert (response.status, response.headers["Retry-After"]) == (503, "7")


async def test_a_fault_glob_matches_only_its_paths(graph, control):
    await control.fault("*/setPresence", status=500, count=5)
    assert (await graph.get(PRESENCE)).status == 200
    assert (await graph.post(f"{PRESENCE}/setPresence", SET_PRESENCE)).status == 500


async def test_a_fault_matches_only_its_method(graph, control):
    await control.fault("/users/*", method="POST", status=403)
    assert (await graph.get(PRESENCE)).status == 200
    assert (await graph.post(f"{PRESENCE}/setPresence", SET_PRESENCE)).status == 403


async def test_a_delay_only_fault_delays_then_proceeds(graph, control):
    await control.fault("*/presence", status=None, delay_ms=150)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await graph.get(PRESENCE)
    assert response.status == 200
    assert loop.time() - started >= 0.15
    [entry] = await control.journal()
    assert entry.fault == {
        "source": "rule",
        "status": None,
        "delayMs": 150,
        "retryAfter": None,
        "retryAfterForm": "seconds",
    }


async def test_random_faults_with_a_seed_are_reproducible(graph, control):
    async def run() -> list[int]:
        await control.random_faults(rate=0.3, seed=42, statuses=[429, 503])
        statuses = [(await graph.get(f"/users/{BOB_ID}/presence")).status for _ in range(40)]
        await control.clear_faults()
        return statuses

    first, second = await run(), await run()
    assert first == second
    assert set(first) == {200, 429, 503}
    assert 5 <= sum(s != 200 for s in first) <= 20


async def test_random_faults_respect_their_path(graph, control):
    await control.random_faults(rate=1.0, seed=1, statuses=[503], path="*/setPresence")
    assert (await graph.get(PRESENCE)).status == 200
    assert (await graph.post(f"{PRESENCE}/setPresence", SET_PRESENCE)).status == 503


async def test_clearing_faults_removes_rules_and_random_faults(graph, control):
    await control.fault("*", status=500, count=10)
    await control.random_faults(rate=1.0, seed=1)
    await control.clear_faults()
    assert await control.faults() == {"rules": [], "random": None}
    assert (await graph.get(PRESENCE)).status == 200


async def test_fixed_latency_slows_every_call_until_turned_off(graph, control):
    await control.latency(fixed_ms=120)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await graph.get(PRESENCE)
    slowed = loop.time() - started
    await control.latency()
    started = loop.time()
    await graph.get(PRESENCE)
    assert slowed >= 0.12
    assert loop.time() - started < 0.12


async def test_random_latency_is_seeded_and_stays_in_its_range(control):
    assert await control.latency(min_ms=5, max_ms=15, seed=7) == {"minMs": 5, "maxMs": 15, "seed": 7}
    first, second = Latency(), Latency()
    first.between(5, 15, seed=7)
    second.between(5, 15, seed=7)
    draws = [first.next_delay_ms() for _ in range(50)]
    assert draws == [second.next_delay_ms() for _ in range(50)]
    assert all(5 <= d <= 15 for d in draws)
    assert len(set(draws)) > 1


async def test_latency_settings_that_contradict_each_other_are_refused(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.latency(fixed_ms=10, min_ms=1, max_ms=2)
    assert caught.value.status == 400
