"""scripts/verify-tenant against the Graph emulator served in-process: --dry-run calls nothing; a run
passes the checks the emulator's default readings answer, changes only the two users it names and leaves
them without a session or preferred presence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID, EmulatorControl, create_app
from scripts import verify_tenant
from tests.emulator.conftest import unsigned_jwt

USERS = ["--user-a", "alice@contoso.test", "--user-b", "bob@contoso.test"]


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    server = TestServer(create_app(users="demo"), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def control(server: TestServer) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(str(server.make_url(""))) as control:
        yield control


async def run(server: TestServer, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("GRAPH_TOKEN", unsigned_jwt(appid=LOOPBACK_APP_ID, aud="https://graph.microsoft.com"))
    graph_url = str(server.make_url("/v1.0"))
    # The script is synchronous: run it off the loop that serves the emulator.
    return await asyncio.to_thread(verify_tenant.main, [*args, "--graph-url", graph_url])


async def test_dry_run_prints_the_plan_and_calls_nothing(server, control, monkeypatch, capsys):
    assert await run(server, monkeypatch, *USERS, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "changing only alice@contoso.test and bob@contoso.test" in out
    assert all(check.name in out for check in verify_tenant.CHECKS)
    assert await control.journal() == []


async def test_a_run_checks_each_promise_and_cleans_up(server, control, monkeypatch, capsys):
    code = await run(server, monkeypatch, *USERS, "--mail", "alice.adams@contoso.test")
    out = capsys.readouterr().out
    rows = {line[:26].strip(): line[27:35].strip() for line in out.splitlines()[1:]}
    assert rows == {
        "upn lookup": "ok",
        "mail lookup": "ok",
        "unknown ids left out": "ok",
        "650 ids in one read": "ok",
        "empty content clears": "ok",
        "preferred duration range": "ok",
        "session PT4H": "ok",
        "sequenceNumber on a fade": "not run",
    }, out
    assert code == 0
    journal = await control.journal()
    touched = {
        e.path.split("/")[3] for e in journal if e.method == "POST" and e.path.startswith("/v1.0/users/")
    }
    assert touched == {ALICE_ID, BOB_ID}
    for user_id in (ALICE_ID, BOB_ID):
        state = await control.user_state(user_id)
        assert state["sessions"] == [], state
        assert state["preferredPresence"] is None, state
