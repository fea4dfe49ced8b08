"""Presence watches (issue 8), the pure rules: what counts as a change between two reads of a user's
presence, which changes a watch's filter lets through, where a notification may be sent, and how it is
signed. No I/O: the poll timer (to come) reads presence in bulk and calls these."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import is_loopback_url
from shared.errors import invalid_field

SIGNATURE_HEADER = "X-Presence-Signature"  # "sha256=<hex HMAC-SHA256 of the body with the watch's secret>"


@dataclass(frozen=True)
class Seen:
    """What a poll read of one user: enough to tell a change and to describe it."""

    availability: str
    activity: str
    sequence_number: str | None


@dataclass(frozen=True)
class Filter:
    """Empty sets let everything through; otherwise the new (current) value must be listed."""

    availability: frozenset[str] = frozenset()
    activity: frozenset[str] = frozenset()

    def admits(self, current: Seen) -> bool:
        return (not self.availability or current.availability in self.availability) and (
            not self.activity or current.activity in self.activity
        )


def changed(previous: Seen | None, current: Seen) -> bool:
    """A change is a different availability or activity. Graph's sequenceNumber moves on every update,
    including ones that show nothing new (a session refreshed, a status message set), so it only says
    when nothing can have changed: the same sequence number is the same presence."""
    if previous is None:
        return False  # the first read sets the baseline; there is nothing to compare with
    if previous.sequence_number is not None and previous.sequence_number == current.sequence_number:
        return False
    return (previous.availability, previous.activity) != (current.availability, current.activity)


def check_callback_url(url: str, *, allow_loopback_http: bool) -> str:
    """A callback URL the service may POST to: https, or plain http to a loopback address when running
    locally; no credentials in it; at most 2,048 characters. A 400 naming `callbackUrl` otherwise."""
    if len(url) > 2048:
        raise invalid_field("invalidCallbackUrl", "callbackUrl", "At most 2,048 characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise invalid_field("invalidCallbackUrl", "callbackUrl", "Not a URL.") from None
    if parts.username or parts.password:
        raise invalid_field("invalidCallbackUrl", "callbackUrl", "No user name or password in the URL.")
    if not host or parts.scheme not in {"https", "http"}:
        raise invalid_field("invalidCallbackUrl", "callbackUrl", "An absolute https URL, e.g. https://...")
    if parts.scheme == "http" and not (allow_loopback_http and is_loopback_url(url)):
        raise invalid_field(
            "invalidCallbackUrl", "callbackUrl", "Use https (plain http only to loopback, locally)."
        )
    return url


def sign(body: bytes, secret: bytes) -> str:
    """The signature header's value for `body`: receivers recompute it with the watch's secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: bytes, header: str | None) -> bool:
    """What a receiver does (and the tests): constant-time comparison with the expected signature."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)
