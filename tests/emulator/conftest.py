"""The Graph emulator in-process (aiohttp TestServer on loopback), a token helper and the control client."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from localdev.graph import LOOPBACK_APP_ID, EmulatorControl, create_app

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # tests start on a frozen clock at this instant


def b64url(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned_jwt(**claims: Any) -> str:
    """What the service's loopback credential sends: header.payload. with no signature."""
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."


APP_TOKEN = unsigned_jwt(appid=LOOPBACK_APP_ID, aud="https://graph.microsoft.com")


class Graph:
    """A /v1.0 client: paths are relative to /v1.0 and carry the app-only token unless told otherwise."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token: str | None = APP_TOKEN

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        base = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**base, **(headers or {})}

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> ClientResponse:
        return await self.client.get(f"/v1.0{path}", headers=self._headers(headers))

    async def post(
        self,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        return await self.client.post(f"/v1.0{path}", json=json, data=data, headers=self._headers(headers))

    async def json(self, response: ClientResponse) -> Any:
        return await response.json(content_type=None)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    server = TestServer(create_app())
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def control(server: TestServer) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(str(server.make_url(""))) as control:
        await control.set_clock(T0, frozen=True)
        yield control


@pytest.fixture
async def graph(server: TestServer, control: EmulatorControl) -> AsyncIterator[Graph]:
    async with TestClient(server) as client:
        yield Graph(client)
