"""Presence watches, the pure rules: what counts as a change, who caused it, what a filter lets
through, where a notification may go, how it is signed, and how a failing receiver is backed off."""

# No I/O: the poll timer (shared/watches/service.py) reads presence in bulk and calls these.

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from shared.platform.config import is_loopback_url
from shared.platform.errors import INVALID_CALLBACK_URL

# Notifications are signed as Standard Webhooks (https://www.standardwebhooks.com) sign them, so receivers
# verify with its libraries: HMAC-SHA256 over "<id>.<timestamp>.<body>", the key in the watch's secret.
ID_HEADER = "webhook-id"  # the notification's deliveryId, the same on a resend: receivers dedupe by it
TIMESTAMP_HEADER = "webhook-timestamp"  # when this attempt was made (seconds since 1970): refuse old ones
SIGNATURE_HEADER = "webhook-signature"  # "v1,<base64 of the HMAC>"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret): how the specification writes a key
# Before 0.7: the body alone signed (replayable). Deprecated; sent alongside in 0.7 and 0.8, dropped in 0.9
# (docs/changelog.md).
LEGACY_SIGNATURE_HEADER = "X-Presence-Signature"  # "sha256=<hex HMAC-SHA256 of the body>"
LEGACY_DELIVERY_HEADER = "X-Presence-Delivery"  # the deliveryId

# The audit trail's operations that change what Graph shows as availability/activity (status messages
# do not). A renewal (the timer setting the same session or preferred presence again) changes nothing.
PRESENCE_WRITES = frozenset(
    {"session.set", "session.clear", "preferred.set", "preferred.clear", "schedule.start", "schedule.end"}
)


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
    """A change is a different availability or activity, whatever sequenceNumber did: Graph's docs do not
    say that a computed change (a session fading, an expiry) moves it, and comparing the two values costs
    nothing. (A moved sequenceNumber alone is no change either: it moves on updates that show nothing new.)"""
    if previous is None:
        return False  # the first read sets the baseline; there is nothing to compare with
    return (previous.availability, previous.activity) != (current.availability, current.activity)


@dataclass(frozen=True)
class Write:
    """One audit row about the user: a change the service made."""

    at: datetime
    operation: str
    caller: str
    schedule_id: str | None


@dataclass(frozen=True)
class Cause:
    by: Literal["service", "other"]
    schedule_id: str | None = None


def cause_of(writes: Iterable[Write], since: datetime, until: datetime, renewer: str) -> Cause:
    """Who changed a presence seen changed at `until` and not at `since` (the previous read): the service
    when it wrote the user's presence in between (the latest such write names its schedule, if any),
    otherwise somebody else (the user, Teams, a calendar). Renewals by `renewer` do not count: they set
    what was already shown. Graph does not say who changed a presence, so this is the service's own
    record against the window: a user's change between the same two reads as the service's reads as
    ours, and a write begun just before a read that Graph applied just after it reads as theirs (the
    audit row is written when a change starts)."""
    ours = [
        w
        for w in writes
        if w.operation in PRESENCE_WRITES
        and since < w.at <= until
        and not (w.caller == renewer and w.operation.endswith(".set") and w.schedule_id is None)
    ]
    if not ours:
        return Cause("other")
    latest = max(ours, key=lambda w: w.at)
    return Cause("service", latest.schedule_id)


def delivery_key(user_id: str, previous: Seen, current: Seen, previous_seen_at: datetime) -> str:
    """A change's id within a watch: the same whichever poller saw it (both compared the same baseline
    with the same read), and never the id of another change, even if Graph showed an older version again
    (the baseline it moved from is part of it). Graph's sequence numbers name the versions; without
    them, the pair and the instant of the baseline; the same when Graph did not move the number (a
    computed change, which may leave it: localdev/graph/README.md, Readings)."""
    pair = f"{current.availability}.{current.activity}"
    baseline_at = str(int(previous_seen_at.timestamp()))
    if previous.sequence_number is not None and previous.sequence_number == current.sequence_number:
        return f"{user_id}.{previous.sequence_number}@{baseline_at}.{current.sequence_number}.{pair}"
    before = previous.sequence_number or baseline_at
    after = current.sequence_number or pair
    return f"{user_id}.{before}.{after}"


def told_before(bodies: Iterable[bytes]) -> dict[str, Seen]:
    """From a watch's undelivered notifications, oldest first: for each user, the presence the receiver
    was last told (the `previous` of the user's oldest one). Dropping them, the watch's baseline goes back
    to it, so the next change it tells starts from what the receiver knows."""
    found: dict[str, Seen] = {}
    for body in bodies:
        try:
            change = json.loads(body)
            previous = Seen(change["previous"]["availability"], change["previous"]["activity"], None)
            found.setdefault(change["userId"], previous)
        except (ValueError, KeyError, TypeError):
            continue  # not a notification this service wrote: nothing to go back to
    return found


def notification(
    *,
    watch_id: str,
    delivery_id: str,
    user: str,
    user_id: str,
    previous: Seen,
    current: Seen,
    changed_at: datetime,
    cause: Cause,
) -> bytes:
    """The body POSTed to the callback (models.PresenceChange documents it), as the exact bytes signed."""
    body: dict[str, Any] = {
        "watchId": watch_id,
        "deliveryId": delivery_id,
        "user": user,
        "userId": user_id,
        "previous": {"availability": previous.availability, "activity": previous.activity},
        "current": {"availability": current.availability, "activity": current.activity},
        "changedAt": changed_at.isoformat().replace("+00:00", "Z"),
        "causedBy": cause.by,
        "scheduleId": cause.schedule_id,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# A receiver that fails is tried again after 1, 2, 4 ... minutes, at most an hour apart.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(failures: int, asked: float | None = None) -> timedelta:
    """How long to wait after the `failures`-th failure in a row (1-based): doubling from a minute, or
    longer if the receiver `asked` (its Retry-After, in seconds), never more than an hour."""
    backoff = min(FIRST_RETRY * 2 ** min(max(failures - 1, 0), 10), LONGEST_RETRY)
    if asked is None:
        return backoff
    return max(backoff, timedelta(seconds=min(asked, LONGEST_RETRY.total_seconds())))


def gives_up(failing_since: datetime, now: datetime, disable_after: timedelta) -> bool:
    """A watch whose receiver has failed every attempt for `disable_after` is disabled."""
    return now - failing_since >= disable_after


def check_callback_url(url: str, *, allow_loopback_http: bool) -> str:
    """A callback URL the service may POST to: https, or plain http to a loopback address when running
    locally; no credentials in it; at most 2,048 characters. A 400 naming `callbackUrl` otherwise."""
    if len(url) > 2048:
        raise INVALID_CALLBACK_URL("At most 2,048 characters.", field="callbackUrl")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise INVALID_CALLBACK_URL("Not a URL.", field="callbackUrl") from None
    if parts.username or parts.password:
        raise INVALID_CALLBACK_URL("No user name or password in the URL.", field="callbackUrl")
    if not host or parts.scheme not in {"https", "http"}:
        raise INVALID_CALLBACK_URL("An absolute https URL, e.g. https://...", field="callbackUrl")
    if not _HOST_NAME.fullmatch(host):
        raise INVALID_CALLBACK_URL(
            "The host must be a name in ASCII (punycode) or an address.", field="callbackUrl"
        )
    if parts.scheme == "http" and not (allow_loopback_http and is_loopback_url(url)):
        raise INVALID_CALLBACK_URL("Use https (plain http only to loopback, locally).", field="callbackUrl")
    if _internal_address(host) and not (allow_loopback_http and is_loopback_url(url)):
        # The service must not be made to POST into its own network (metadata endpoints, the wireserver,
        # private hosts).
        raise INVALID_CALLBACK_URL(
            "It must be a public address: not a private, local, reserved or Azure platform address.",
            field="callbackUrl",
        )
    return url


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix: the last 32 bits are IPv4

# Never a callback, though Python's ipaddress may call them global: Azure's platform address (the
# "wireserver": the VM agent, DHCP, DNS, health probes; reachable from every Azure host), and
# special-purpose blocks IANA registered after the ipaddress tables of some runtimes (3.11) were made.
# (Azure's instance metadata service, 169.254.169.254, is link-local already.)
_NOT_PUBLIC = (
    ipaddress.ip_network("168.63.129.16/32"),  # Azure's platform address
    ipaddress.ip_network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.ip_network("5f00::/16"),  # SRv6 SIDs (RFC 9602)
)


def is_public_address(address: str) -> bool:
    """The one rule for where the service may connect: an IP address that is globally reachable in IANA's
    special-purpose registries (not private, shared, loopback, link-local, site-local, documentation,
    benchmarking, reserved, unspecified or multicast), not Azure's platform address. An IPv6 form that
    carries an IPv4 address reaches it: mapped and NAT64 ones are as public as the IPv4 address, 6to4
    only if both are, compatible (::/8) and Teredo (2001::/32) ones never.
    Callers: the check at POST time (check_callback_url) and at each connection
    (shared/watches/webhooks.py)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(str(ip.ipv4_mapped))  # ::ffff:a.b.c.d is a.b.c.d itself
        if ip in _NAT64:
            return is_public_address(str(ipaddress.IPv4Address(ip.packed[12:])))  # a translator's way there
        inner = _embedded_ipv4(ip)
        if inner is not None and not is_public_address(str(inner)):
            return False
    special = (
        ip.is_private
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )
    return (
        ip.is_global
        and not special
        and not any(ip in net for net in _NOT_PUBLIC if net.version == ip.version)
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if ip.packed[:12] == bytes(12):  # IPv4-compatible (::a.b.c.d; deprecated, and in ::/8, reserved)
        return ipaddress.IPv4Address(ip.packed[12:])
    return None


def _internal_address(host: str) -> bool:
    """Whether a URL's host is a local name or an address that is not public. Names are checked again at
    delivery, on the addresses DNS gives (shared/watches/webhooks.py), since DNS can point anywhere."""
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or host == "localhost.localdomain":
        return True
    try:
        return not is_public_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):  # 127.1, 0x7f000001, 2130706433: forms the resolver still takes
        try:
            return not is_public_address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return False
    return False


_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)
_HOST_NAME = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")  # an ASCII (punycode) name, or an IPv6 literal


def new_secret() -> str:
    """A new watch's secret: 32 random bytes, written as the specification writes secrets."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key a watch's secret stands for: the bytes after `whsec_`. A watch made before 0.7 has a
    secret without the prefix: its UTF-8 bytes are the key (as they were), so its receiver verifies with
    the libraries given those bytes as the raw key, or `whsec_` + their base64."""
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    return secret.encode()


def signed_headers(body: bytes, secret: str, delivery_id: str, at: datetime) -> dict[str, str]:
    """The headers that sign one attempt to send `body` at `at`: the Standard Webhooks three, and the
    deprecated pair for receivers from before 0.7. The id (the service's own: a watch id, a user's object
    id, Graph's sequence numbers and values) and the timestamp (digits) are not the caller's to choose,
    so the dots between the signed parts cannot be moved."""
    timestamp = str(int(at.timestamp()))
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(signing_key(secret), signed, hashlib.sha256).digest()).decode()
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"v1,{signature}",
        LEGACY_SIGNATURE_HEADER: legacy_signature(body, secret),
        LEGACY_DELIVERY_HEADER: delivery_id,
    }


def legacy_signature(body: bytes, secret: str) -> str:
    """X-Presence-Signature (deprecated): the body alone, keyed with the secret's UTF-8 bytes as written."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
