"""A webhook receiver on loopback for the watch tests: records every POST, answers with the statuses it
is told to (200 once they run out), and checks each signature as a real receiver would."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.watch_rules import DELIVERY_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str | None
    delivery_id: str | None
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        return verify(self.body, secret.encode(), self.signature)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[int] = deque()
        self.always: int | None = None  # answer every POST with this status
        self.decide: Callable[[], int] | None = None  # or with what this says, each time
        self.retry_after: str | None = None  # sent with every answer that is not 2xx
        self.on_post: Callable[[], Awaitable[None]] | None = None  # run as each POST arrives
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self._server.make_url("/hook"))

    def answer(self, *statuses: int) -> None:
        """The next POSTs get these statuses, in order."""
        self._answers.extend(statuses)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The notifications it accepted (2xx), in arrival order."""
        return [r.json for r in self.received if 200 <= r.answered < 300]

    async def _hook(self, request: web.Request) -> web.Response:
        status = self.always or (self.decide() if self.decide else None)
        status = status or (self._answers.popleft() if self._answers else 200)
        body = await request.read()
        if self.on_post is not None:
            await self.on_post()
        self.received.append(
            Received(
                body, request.headers.get(SIGNATURE_HEADER), request.headers.get(DELIVERY_HEADER), status
            )
        )
        failed = not 200 <= status < 300 and self.retry_after is not None
        return web.Response(status=status, headers={"Retry-After": self.retry_after} if failed else None)

    async def __aenter__(self) -> Receiver:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()
