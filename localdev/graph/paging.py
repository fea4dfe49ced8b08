"""Server-driven paging of directory collections, as Graph pages a group's members: `$top` (1 to 999, 100 by
default), and an absolute `@odata.nextLink` carrying an opaque `$skiptoken` until the last page.

A skip token names the object id after which the next page starts (collections are ordered by object id),
and the collection it belongs to; it is signed with a key of the emulator's own, so a token the emulator
did not issue for that collection is Graph's 400 rather than a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar
from urllib.parse import quote

from localdev.graph.errors import invalid_page_size, invalid_skip_token, invalid_top

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999  # Graph's maximum for directory objects
_MAC_BYTES = 16
_DIGITS = re.compile(r"[0-9]+")
# Kept as they are in a nextLink's query, as Graph writes them ($select=id,displayName).
_QUERY_SAFE = "$,'()@:"
_PATH_SAFE = "/$@:.'()"


class HasId(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=HasId)


def page_size(raw: str | None) -> int:
    """$top as a page size: OData's 400 for a value that is not a non-negative integer, Graph's 400 outside
    1..999."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not _DIGITS.fullmatch(raw):
        raise invalid_top(raw)
    size = int(raw)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid_page_size(size)
    return size


def page(items: Sequence[Item], after: str | None, size: int) -> tuple[list[Item], bool]:
    """The page of `items` (ordered by id) that starts after the id `after`, and whether more follow it."""
    rest = [item for item in items if after is None or item.id > after]
    return rest[:size], len(rest) > size


class SkipTokens:
    """Issues and reads skip tokens; each emulator has its own key."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, collection: str, after: str) -> str:
        payload = f"{collection}\n{after}".encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).rstrip(b"=").decode()

    def read(self, token: str, collection: str) -> str:
        """The id a token says to continue after; 400 for a token not issued for this collection."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid_skip_token() from None
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid_skip_token()
        issued_for, _, after = payload.decode().partition("\n")
        if issued_for != collection:
            raise invalid_skip_token()
        return after

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def next_link(base_url: str, path: str, query: Mapping[str, str], token: str) -> str:
    """The request's own URL (its query options kept, as Graph does) with the new $skiptoken."""
    kept = [(k, v) for k, v in query.items() if k.removeprefix("$").lower() != "skiptoken"]
    pairs = [*kept, ("$skiptoken", token)]
    encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in pairs)
    return f"{base_url}{quote(path, safe=_PATH_SAFE)}?{encoded}"
