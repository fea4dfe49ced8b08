"""Sending a watch's notifications: one signed POST, and what the receiver's answer means."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import aiohttp

from shared.watch_rules import DELIVERY_HEADER, SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

# A receiver gets this long to answer; Power Automate's trigger endpoint answers at once (202).
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
USER_AGENT = "presence-automation-watch/1"


@dataclass(frozen=True)
class Answer:
    """What became of one POST: delivered (2xx), gone (410: the receiver says stop), or failed."""

    outcome: Literal["delivered", "gone", "failed"]
    detail: str  # the status or the network error, for the watch's lastError (never the body)


class WebhookSender:
    """One HTTP session per delivery round (`async with`), POSTs without following redirects: the
    callback URL was checked when the watch was made, a redirect could lead anywhere."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookSender:
        self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, secret: str, delivery_id: str) -> Answer:
        assert self._session is not None, "use `async with WebhookSender()`"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(body, secret.encode()),
            DELIVERY_HEADER: delivery_id,
        }
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as reply:
                status = reply.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Answer("failed", f"Not reached: {type(exc).__name__}.")
        if 200 <= status < 300:
            return Answer("delivered", str(status))
        if status == 410:
            return Answer("gone", "The receiver answered 410 Gone.")
        return Answer("failed", f"The receiver answered {status}.")
