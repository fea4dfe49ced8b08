"""scripts/verify-tenant against the Graph emulator served in-process: --dry-run calls nothing; a run
(with --long, the waits moving the emulator's clock) tells each reading of what Graph leaves open as the
emulator was switched, changes only the two users it names and leaves them without a session or preferred
presence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID, EmulatorControl, create_app
from scripts import verify_tenant
from tests.emulator.conftest import unsigned_jwt
from tests.integration.conftest import OTHER_READINGS

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
    advance_url = str(server.make_url("/_emulator/clock/advance"))

    def wait(seconds: float) -> None:  # the script's sleep: the emulator's clock moves instead
        httpx.post(advance_url, json={"seconds": seconds}).raise_for_status()

    # The script is synchronous: run it off the loop that serves the emulator.
    return await asyncio.to_thread(verify_tenant.main, [*args, "--graph-url", graph_url], wait=wait)


def table_rows(out: str) -> dict[str, str]:
    return {line[:26].strip(): line[27:35].strip() for line in out.splitlines()[1:]}


async def test_dry_run_prints_the_plan_and_calls_nothing(server, control, monkeypatch, capsys):
    assert await run(server, monkeypatch, *USERS, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "changing only alice@contoso.test and bob@contoso.test" in out
    assert all(check.name in out for check in verify_tenant.CHECKS)
    assert out.count("(with --long)") == sum(1 for c in verify_tenant.CHECKS if c.long) == 2
    assert await run(server, monkeypatch, *USERS, "--dry-run", "--long") == 0
    assert "(with --long)" not in capsys.readouterr().out
    assert await control.journal() == []


async def test_without_long_the_waiting_checks_are_not_run(server, control, monkeypatch, capsys):
    assert await run(server, monkeypatch, *USERS) == 0
    rows = table_rows(capsys.readouterr().out)
    assert (rows["sequenceNumber on a fade"], rows["session lasts PT4H"]) == ("not run", "not run")
    assert rows["mail lookup"] == "not run"  # no --mail given


@pytest.mark.parametrize("readings", ["default", "other"])
async def test_a_long_run_tells_each_reading_and_cleans_up(server, control, monkeypatch, capsys, readings):
    if readings == "other":
        await control.set_readings(**OTHER_READINGS)
    await control.set_clock(datetime.now(UTC), frozen=True)  # moved only by the script's waits
    started = await control.now()

    code = await run(server, monkeypatch, *USERS, "--mail", "alice.adams@contoso.test", "--long")

    out = capsys.readouterr().out
    reading = "ok" if readings == "default" else "other"
    assert table_rows(out) == {
        "upn lookup": "ok",
        "mail lookup": "ok",
        "unknown ids left out": reading,
        "650 ids in one read": reading,
        "empty content clears": "ok",
        "preferred duration range": "ok",
        "session PT4H": "ok",
        "sequenceNumber on a fade": reading,
        "session lasts PT4H": "ok",
    }, out
    assert code == 0  # the other reading is one the service holds under: no failure
    assert (
        await control.now() - started
    ).total_seconds() == verify_tenant.FADE_WAIT + verify_tenant.PT4H + 120
    journal = await control.journal()
    after_fade = [e for e in journal if e.method == "GET" and e.path == f"/v1.0/users/{ALICE_ID}/presence"][
        -1
    ]
    assert after_fade.readings == (
        f"sequenceOnComputedChange={'true' if readings == 'default' else 'false'}",
    )
    probe, emptied = [e for e in journal if e.path.endswith("/setStatusMessage")]
    assert (probe.status, emptied.status) == (200, 200)
    assert "expiryDateTime" in probe.body["statusMessage"]  # it would expire by itself
    touched = {
        e.path.split("/")[3] for e in journal if e.method == "POST" and e.path.startswith("/v1.0/users/")
    }
    assert touched == {ALICE_ID, BOB_ID}
    for user_id in (ALICE_ID, BOB_ID):
        state = await control.user_state(user_id)
        assert state["sessions"] == [], state
        assert state["preferredPresence"] is None, state
        assert state["statusMessage"] is None, state
