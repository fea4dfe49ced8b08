"""End-to-end fixtures: the real function app served by the local host, with Azurite and the Graph emulator,
each its own process, as `scripts/run-local` starts them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.data.tables.aio import TableClient, TableServiceClient
from multidict import CIMultiDict

from localdev.graph import EmulatorControl
from localdev.ports import free_port, popen_child, wait_for_http
from localdev.stack import Stack

REPO = Path(__file__).resolve().parents[2]
KEY = "e2e-test-key"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # The emulator's presence throttle is off: tests freeze its clock, so its 30-s window never slides.
    with Stack(app_dir=REPO, function_key=KEY, run_timers=False, presence_budget=0) as running:
        running.start()
        yield running


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]  # header names are case-insensitive, as in HTTP
    body: Any

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


class Api:
    """A flow's view of the service: JSON in, JSON out, the function key on every call."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self.base = base

    async def call(self, method: str, path: str, *, key: str | None = KEY, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["x-functions-key"] = key
        async with self._session.request(method, self.base + path, headers=headers, **kwargs) as response:
            raw = await response.read()
            body = json.loads(raw) if raw and "json" in response.headers.get("Content-Type", "") else raw
            return Reply(response.status, CIMultiDict(response.headers), body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, **kwargs)

    async def run_timer(self, name: str) -> None:
        """What the Functions host's admin endpoint does: run the timer now; 202 once it finished."""
        reply = await self.post(f"/admin/functions/{name}", json={"input": ""})
        assert reply.status == 202, reply.body


@contextlib.asynccontextmanager
async def another_host(stack: Stack, log_name: str, **env: str) -> AsyncIterator[Api]:
    """Another local host (no timers) on the same Azurite and Graph emulator: a second instance, with
    `env` over the stack's settings."""
    port = free_port()
    argv = stack.host_argv(port, run_timers=False)
    log_path = stack.data_dir / "logs" / log_name
    process = popen_child(argv, log_path=log_path, cwd=REPO, env={**stack.host_env(), **env})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/admin/host/status", timeout=30)
        async with aiohttp.ClientSession() as session:
            yield Api(session, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def api(stack: Stack, clean_tables: None) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, stack.host_url)


@pytest.fixture
async def graph(stack: Stack) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(stack.graph_url) as control:
        await control.reset()
        yield control


@pytest.fixture
async def clean_tables(stack: Stack) -> None:
    """Every test starts with empty tables (the host keeps running; its tables stay)."""
    async with TableServiceClient.from_connection_string(stack.azurite.connection_string) as service:
        async for table in service.list_tables():
            if table.name.startswith(stack.table_prefix):
                client = service.get_table_client(table.name)
                async for row in client.list_entities(select=["PartitionKey", "RowKey"]):
                    await client.delete_entity(row["PartitionKey"], row["RowKey"])


@pytest.fixture
async def rows(stack: Stack) -> Callable[[str], Awaitable[list[dict[str, Any]]]]:
    """The rows of one of the service's tables, e.g. await rows("Audit")."""

    async def read(suffix: str) -> list[dict[str, Any]]:
        name = f"{stack.table_prefix}{suffix}"
        async with TableClient.from_connection_string(stack.azurite.connection_string, name) as table:
            return [dict(row) async for row in table.list_entities()]

    return read


class TravelClock:
    """One clock for the app (the local host's) and for Graph (the emulator's), stopped, moved together."""

    def __init__(self, api: Api, graph: EmulatorControl) -> None:
        self._api = api
        self._graph = graph
        self.now = START

    async def set(self, now: datetime) -> None:
        self.now = now
        await self._graph.set_clock(now, frozen=True)
        reply = await self._api.put("/admin/clock", json={"now": now.isoformat(), "frozen": True})
        assert reply.status == 200, reply.body

    async def advance(self, **delta: float) -> None:
        await self.set(self.now + timedelta(**delta))


START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def clock(api: Api, graph: EmulatorControl) -> AsyncIterator[TravelClock]:
    travel = TravelClock(api, graph)
    await travel.set(START)
    yield travel
    await api.put("/admin/clock", json={"reset": True})
