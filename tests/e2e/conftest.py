"""End-to-end fixtures: the real function app served by the local host, with Azurite and the Graph emulator,
each its own process, as `scripts/run-local` starts them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localdev.graph import EmulatorControl
from localdev.stack import Stack

REPO = Path(__file__).resolve().parents[2]
KEY = "e2e-test-key"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with Stack(app_dir=REPO, function_key=KEY, run_timers=False) as running:
        running.start()
        yield running


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
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
            return Reply(response.status, dict(response.headers), body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, stack.host_url)


@pytest.fixture
async def graph(stack: Stack) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(stack.graph_url) as control:
        await control.reset()
        yield control
