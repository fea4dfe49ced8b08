"""Sending a watch's notifications: one signed POST, and what the receiver's answer means."""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from shared.platform.retry_after import retry_after_seconds
from shared.watches.rules import LONGEST_RETRY, is_public_address, signed_headers

log = logging.getLogger(__name__)

# A receiver gets this long to answer; Power Automate's trigger endpoint answers at once (202).
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
USER_AGENT = "presence-automation-watch/1"
_REFUSED = "Refused: the host is, or resolves only to, private or local addresses."


@dataclass(frozen=True)
class Answer:
    """What became of one POST: delivered (2xx), gone (410: the receiver says stop), or failed."""

    outcome: Literal["delivered", "gone", "failed"]
    detail: str  # the status or the network error, for the watch's lastError (never the body)
    retry_after: float | None = None  # seconds a 429/503 asked for (rules.retry_delay caps it)


class PrivateAddress(OSError):
    """A callback host whose every address is private or local: never connected to."""


class PublicOnlyResolver(ThreadedResolver):
    """DNS answers filtered to public addresses, and the connection made to those very addresses: a
    callback name pointing into the service's own network (or re-pointed there after the watch was made)
    is refused, not connected to. Loopback is kept when the stack is local."""

    def __init__(self, allow_loopback: bool) -> None:
        super().__init__()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        kept = [r for r in found if self._allowed(r["host"])]
        if not kept:
            raise PrivateAddress(f"{host} resolves only to private or local addresses")
        return kept

    def _allowed(self, address: str) -> bool:
        return may_connect(address, self._allow_loopback)


def may_connect(address: str, allow_loopback: bool) -> bool:
    """Whether the service may open a connection to this IP address."""
    return is_public_address(address) or (allow_loopback and ipaddress.ip_address(address).is_loopback)


def _address_literal(url: str) -> str | None:
    """The URL's host if it is an IP address (aiohttp connects to those without asking the resolver)."""
    host = urlsplit(url).hostname or ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class WebhookSender:
    """One HTTP session per delivery round (`async with`), POSTs without following redirects: the
    callback URL was checked when the watch was made, a redirect could lead anywhere."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._allow_loopback = allow_loopback

    async def __aenter__(self) -> WebhookSender:
        connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(self._allow_loopback))
        self._session = aiohttp.ClientSession(timeout=TIMEOUT, connector=connector)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, secret: str, delivery_id: str, at: datetime) -> Answer:
        """One attempt, signed as made `at` (the service's clock, now)."""
        assert self._session is not None, "use `async with WebhookSender()`"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed_headers(body, secret, delivery_id, at),
        }
        literal = _address_literal(url)
        if literal is not None and not may_connect(literal, self._allow_loopback):
            return Answer("failed", _REFUSED)
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as reply:
                status, retry_after = reply.status, reply.headers.get("Retry-After", "")
        except (TimeoutError, aiohttp.ClientError) as exc:
            if isinstance(exc.__cause__, PrivateAddress) or isinstance(exc, PrivateAddress):
                return Answer("failed", _REFUSED)
            return Answer("failed", f"Not reached: {type(exc).__name__}.")
        if 200 <= status < 300:
            return Answer("delivered", str(status))
        if status == 410:
            return Answer("gone", "The receiver answered 410 Gone.")
        wait = retry_after_seconds(retry_after, at, longest=LONGEST_RETRY.total_seconds())
        return Answer("failed", f"The receiver answered {status}.", wait if status in (429, 503) else None)
