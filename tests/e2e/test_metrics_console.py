"""METRICS_CONSOLE=true on the local host (its own stack): a renewal driven through the API and the admin
timer endpoint shows in the metrics the app prints, counted as Graph answered it (the emulator's journal)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID
from localdev.stack import Stack
from tests.e2e.conftest import KEY, REPO, Api, TravelClock


@pytest.fixture(scope="module")
def console_stack() -> Iterator[Stack]:
    with Stack(app_dir=REPO, function_key=KEY, run_timers=False, env={"METRICS_CONSOLE": "true"}) as running:
        running.start()
        yield running


@pytest.fixture
async def console_api(console_stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, console_stack.host_url)


@pytest.fixture
async def console_graph(console_stack: Stack) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(console_stack.graph_url) as control:
        await control.reset()
        yield control


def printed_metrics(log: str) -> list[dict[str, Any]]:
    """The MetricsData objects the console exporter wrote (pretty JSON, each starting on its own line)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := log.find('{\n    "resource_metrics"', at)) != -1:
        data, end = decoder.raw_decode(log, at)
        found.append(data)
        at = end
    return found


def points(data: dict[str, Any], name: str) -> dict[frozenset[tuple[str, Any]], float]:
    found: dict[frozenset[tuple[str, Any]], float] = {}
    for resource in data["resource_metrics"]:
        for scope in resource["scope_metrics"]:
            for metric in scope["metrics"]:
                if metric["name"] == name:
                    for point in metric["data"]["data_points"]:
                        value = point.get("value", point.get("count"))
                        found[frozenset(point["attributes"].items())] = value
    return found


async def test_a_renewal_shows_in_the_metrics_the_local_host_prints(
    console_stack, console_api, console_graph
):
    clock = TravelClock(console_api, console_graph)
    await clock.set(clock.now)
    reply = await console_api.put(
        f"/api/users/{ALICE_ID}/presence/session",
        json={"availability": "Busy", "activity": "InACall", "durationMinutes": 480},
    )
    assert reply.status == 200, reply.body
    await clock.advance(hours=3, minutes=55)
    await console_api.run_timer("renew_sessions")
    await console_api.put("/admin/clock", json={"reset": True})
    sets = await console_graph.journal(path="/setPresence")
    assert [e.status for e in sets] == [200, 200]

    console_stack.stop_host()  # a clean stop: the meter provider prints what it holds on the way out

    printed = printed_metrics(console_stack.host_log.read_text())
    assert printed, "the host printed no metrics"
    last = printed[-1]
    assert points(last, "presence.renewals.done") == {frozenset({("operation", "session.set")}): 1}
    assert (
        points(last, "presence.graph.calls")[frozenset({("action", "setPresence"), ("status", "200")})] == 2
    )
    [run] = points(last, "presence.timers.duration").items()
    assert run == (frozenset({("timer", "renew_sessions"), ("outcome", "ok")}), 1)
