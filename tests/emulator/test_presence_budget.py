"""Graph's presence budget in the emulator: a sliding 30-second window per app over the emulator clock,
a Graph-shaped 429 with Retry-After past it (journaled), off until turned on, back to its start on reset."""

from __future__ import annotations

from datetime import timedelta

import pytest

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID, EmulatorControlError, create_app
from localdev.graph.cli import _parser
from localdev.graph.emulator import EMULATOR
from localdev.graph.throttle import DEFAULT_LIMIT
from tests.emulator.conftest import T0, unsigned_jwt

PRESENCE = f"/users/{ALICE_ID}/presence"
ANOTHER_APP = "0f0e0d0c-0b0a-4090-8070-605040302010"


async def test_off_until_turned_on(graph, control):
    assert (await control.budget())["limit"] is None
    statuses = {(await graph.get(PRESENCE)).status for _ in range(40)}
    assert statuses == {200}


async def test_past_the_budget_a_graph_shaped_429_with_retry_after_until_the_window_slides(graph, control):
    await control.presence_budget(3)
    assert [(await graph.get(PRESENCE)).status for _ in range(3)] == [200, 200, 200]
    await control.advance(seconds=10)
    refused = await graph.get(PRESENCE)
    body = await graph.json(refused)
    assert (refused.status, refused.headers["Retry-After"]) == (429, "20")  # the first leaves at +30 s
    assert body["error"]["code"] == "TooManyRequests"

    await control.advance(seconds=20)  # the three sent at T0 leave the window
    assert (await graph.get(PRESENCE)).status == 200
    journal = await control.journal(path="/presence")
    assert [e.status for e in journal] == [200, 200, 200, 429, 200]
    assert journal[3].fault == {"source": "budget", "status": 429, "delayMs": 0, "retryAfter": 20}
    assert (await control.budget())["refused"] == 1


async def test_reads_writes_and_bulk_reads_count_directory_reads_do_not(graph, control):
    await control.presence_budget(2)
    assert (await graph.get(f"/users/{BOB_ID}")).status == 200  # a directory read: not presence
    body = {"ids": [ALICE_ID, BOB_ID]}
    assert (await graph.post("/communications/getPresencesByUserId", body)).status == 200
    message = {"statusMessage": {"message": {"content": "Hi", "contentType": "text"}}}
    assert (await graph.post(f"{PRESENCE}/setStatusMessage", message)).status == 200
    assert (await graph.get(PRESENCE)).status == 429
    assert (await control.budget())["inWindow"] == {LOOPBACK_APP_ID: 2}


async def test_each_app_has_its_own_window(graph, control):
    await control.presence_budget(1)
    assert (await graph.get(PRESENCE)).status == 200
    assert (await graph.get(PRESENCE)).status == 429
    graph.token = unsigned_jwt(appid=ANOTHER_APP, aud="https://graph.microsoft.com")
    assert (await graph.get(PRESENCE)).status == 200


async def test_turned_off_and_reset(graph, control):
    await control.presence_budget(1)
    await graph.get(PRESENCE)
    await control.presence_budget(None)
    assert (await graph.get(PRESENCE)).status == 200
    await control.presence_budget(1)
    await control.reset()  # back to how the emulator was started: off here
    await control.set_clock(T0 + timedelta(seconds=1), frozen=True)
    assert [(await graph.get(PRESENCE)).status for _ in range(3)] == [200, 200, 200]


async def test_a_limit_below_one_is_refused(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.presence_budget(0)
    assert caught.value.status == 400


def test_the_cli_keeps_graphs_budget_by_default_and_0_turns_it_off():
    assert _parser().parse_args([]).presence_budget == DEFAULT_LIMIT == 1500
    assert _parser().parse_args(["--presence-budget", "0"]).presence_budget == 0
    assert create_app(presence_budget=5)[EMULATOR].presence_budget.limit == 5
    assert create_app()[EMULATOR].presence_budget.limit is None  # in-process (tests): off
