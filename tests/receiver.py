"""A webhook receiver on loopback for the watch tests: records every POST, answers with the statuses it
is told to (200 once they run out), and checks signatures as a real receiver would, with Standard
Webhooks' own library (`standardwebhooks`)."""

from __future__ import annotations

import hmac
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook, WebhookVerificationError

from shared.watches.rules import (
    ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SECRET_PREFIX,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    legacy_signature,
)


def library_webhook(secret: str) -> Webhook:
    """What a receiver builds from its watch's secret: a `whsec_` secret as it is; a watch's from before
    0.7 (no prefix) as the raw key, its UTF-8 bytes."""
    return Webhook(secret if secret.startswith(SECRET_PREFIX) else secret.encode())


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: Mapping[str, str]  # names in lower case
    answered: int
    refused: str | None = None  # why the library refused it, when the receiver checked it as it came

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str | None:
        return self.headers.get(ID_HEADER)

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.headers[TIMESTAMP_HEADER]), UTC)

    def signed_with(self, secret: str) -> bool:
        """Whether both signatures are the secret's: the Standard Webhooks one checked by the library as of
        the moment the notification says it was sent (the tests move the service's clock; `Receiver.secret`
        checks the moment too), and the deprecated X-Presence-Signature."""
        try:
            expected = library_webhook(secret).sign(self.headers[ID_HEADER], self.sent_at, self.body.decode())
        except (KeyError, ValueError):
            return False
        passed = self.headers.get(SIGNATURE_HEADER, "").split(" ")
        legacy = self.headers.get(LEGACY_SIGNATURE_HEADER.lower(), "")
        return any(hmac.compare_digest(expected, one) for one in passed) and hmac.compare_digest(
            legacy, legacy_signature(self.body, secret)
        )


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[int] = deque()
        self.always: int | None = None  # answer every POST with this status
        self.decide: Callable[[], int] | None = None  # or with what this says, each time
        self.retry_after: str | None = None  # sent with every answer that is not 2xx
        self.on_post: Callable[[], Awaitable[None]] | None = None  # run as each POST arrives
        self.secret: str | None = None  # set: verify each POST with the library, now; 401 if it fails
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
        headers = {name.lower(): value for name, value in request.headers.items()}
        refused = None
        if self.secret is not None:
            try:
                library_webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as error:
                refused, status = str(error), 401
        if self.on_post is not None:
            await self.on_post()
        self.received.append(Received(body, headers, status, refused))
        failed = not 200 <= status < 300 and self.retry_after is not None
        return web.Response(status=status, headers={"Retry-After": self.retry_after} if failed else None)

    async def __aenter__(self) -> Receiver:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()
