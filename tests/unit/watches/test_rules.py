"""Presence watches, the pure rules: what a change is, what a filter lets through, where notifications
may go, and their signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from shared.platform.errors import ServiceError
from shared.watches.rules import (
    Cause,
    Filter,
    Seen,
    Write,
    cause_of,
    changed,
    check_callback_url,
    delivery_key,
    is_public_address,
    legacy_signature,
    new_secret,
    retry_delay,
    signed_headers,
    signing_key,
    told_before,
)
from shared.watches.webhooks import may_connect

BUSY = Seen("Busy", "InACall", "0001")
AVAILABLE = Seen("Available", "Available", "0002")


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, BUSY, False),  # the first read is the baseline
        (BUSY, Seen("Busy", "InACall", "0003"), False),  # Graph updated something that does not show here
        (BUSY, AVAILABLE, True),
        (BUSY, Seen("Busy", "InAMeeting", "0003"), True),  # same availability, other activity
        # Same sequence number, other values: Graph may leave the number on a computed change (a fade).
        (BUSY, Seen("Available", "Available", "0001"), True),
        (BUSY, Seen("Busy", "InACall", "0001"), False),
        (Seen("Busy", "InACall", None), AVAILABLE, True),  # no sequence number: the values decide
    ],
)
def test_a_change_is_another_availability_or_activity(previous, current, expected):
    assert changed(previous, current) is expected


def test_changes_under_an_unmoved_sequence_number_get_distinct_delivery_keys():
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    away, back = Seen("Away", "Away", "0001"), Seen("Busy", "InACall", "0001")
    keys = {
        delivery_key("u", BUSY, away, at),
        delivery_key("u", away, back, at + timedelta(minutes=1)),
        delivery_key("u", back, away, at + timedelta(minutes=2)),
        delivery_key("u", BUSY, AVAILABLE, at),
    }
    assert len(keys) == 4
    assert delivery_key("u", BUSY, AVAILABLE, at) == "u.0001.0002"  # unchanged where the number moved


def test_filters_look_at_the_new_presence():
    assert Filter().admits(BUSY)
    assert Filter(availability=frozenset({"Offline", "Away"})).admits(Seen("Away", "Away", None))
    assert not Filter(availability=frozenset({"Offline"})).admits(BUSY)
    assert Filter(frozenset({"Busy"}), frozenset({"InACall"})).admits(BUSY)
    assert not Filter(frozenset({"Busy"}), frozenset({"InAMeeting"})).admits(BUSY)


@pytest.mark.parametrize(
    "url",
    [
        "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
        "https://receiver.example.com/hook",
    ],
)
def test_https_callbacks_are_accepted(url):
    assert check_callback_url(url, allow_loopback_http=False) == url


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080/hook", True),
        ("http://[::1]:8080/hook", True),
        ("http://localhost/hook", True),
    ],
)
def test_plain_http_only_to_loopback_and_only_locally(url, local):
    assert check_callback_url(url, allow_loopback_http=local) == url
    with pytest.raises(ServiceError):
        check_callback_url(url, allow_loopback_http=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://receiver.example.com/hook",
        "http://10.0.0.5/hook",
        "ftp://receiver.example.com/hook",
        "https://user:secret@receiver.example.com/hook",
        "https:///no-host",
        "https://receiver.example.com:port/hook",
        "receiver.example.com/hook",
        "https://receiver.example.com/" + "a" * 2100,
        # Addresses inside the service's own network, however they are written
        "https://10.0.0.5/hook",
        "https://169.254.169.254/metadata",
        "https://[fe80::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[fd00::1]/hook",
        "https://[::127.0.0.1]/hook",  # IPv4-compatible
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4 of the same
        "https://[fec0::1]/hook",  # site-local
        "https://[ff02::1]/hook",  # multicast
        "https://168.63.129.16/hook",  # Azure's platform address (the wireserver)
        "https://[::ffff:a83f:8110]/hook",  # the same, IPv4-mapped
        "https://[64:ff9b::a83f:8110]/hook",  # the same, NAT64
        "https://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
        "https://127.1/hook",
        "https://0x7f000001/hook",
        "https://2130706433/hook",
        "https://10.1/hook",
        "https://0/hook",
        "https://localhost./hook",
        "https://printer.localhost/hook",
        # Hosts no resolver would take as given
        "https://exa mple.com/hook",
        "https://bücher.example/hook",
    ],
)
def test_other_callbacks_are_a_400_naming_the_field(url):
    with pytest.raises(ServiceError) as refused:
        check_callback_url(url, allow_loopback_http=True)
    assert (refused.value.status, refused.value.code) == (400, "invalidCallbackUrl")
    assert refused.value.errors[0].field == "callbackUrl"


# IANA's IPv4 and IPv6 special-purpose address registries, one address per block that is not globally
# reachable, plus Azure's platform addresses; then public addresses, plain and in IPv6 forms that carry them.
NOT_PUBLIC_IPV4 = [
    "0.0.0.0",  # "this network" 0.0.0.0/8
    "0.1.2.3",
    "10.1.2.3",  # private
    "100.64.0.1",  # shared address space
    "127.0.0.1",  # loopback
    "169.254.169.254",  # link-local: Azure's (and every cloud's) instance metadata service
    "172.16.0.1",
    "192.0.0.170",  # IETF protocol assignments (NAT64 discovery)
    "192.0.2.1",  # documentation (TEST-NET-1, 2, 3)
    "198.51.100.1",
    "203.0.113.1",
    "192.168.1.1",
    "198.18.0.1",  # benchmarking
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",  # limited broadcast
    "168.63.129.16",  # Azure's platform address (the wireserver)
]
NOT_PUBLIC_IPV6 = [
    "::",  # unspecified
    "::1",  # loopback
    "::8.8.8.8",  # IPv4-compatible (deprecated; ::/8 is reserved)
    "100::1",  # discard-only
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637, newer than some Python runtimes' tables)
    "5f00::1",  # SRv6 SIDs
    "2001:2::1",  # benchmarking
    "2001:10::1",  # ORCHID (deprecated)
    "fc00::1",  # unique local
    "fd00:ec2::254",  # unique local (a cloud's IPv6 metadata address)
    "fe80::1",  # link-local
    "fec0::1",  # site-local (deprecated)
    "ff02::1",  # multicast
    "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
]
CARRYING_IPV4 = [  # IPv6 forms that reach an IPv4 address: as private as what they carry
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:168.63.129.16",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a83f:8110",  # NAT64 of 168.63.129.16
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:a83f:8110::1",  # 6to4 of 168.63.129.16
    "2001:0:4136:e378:8000:63bf:57c0:7eef",  # Teredo, client 168.63.129.16 (2001::/32 is not global either)
    "2001:0:4136:e378:8000:63bf:f5c0:7ef0",  # Teredo, client 10.63.129.15
]
PUBLIC = [
    "8.8.8.8",
    "20.190.128.1",  # an Azure public address: Azure's own services are fine, its platform address is not
    "168.63.129.15",  # next to the platform address
    "168.63.129.17",
    "192.0.0.9",  # a globally reachable exception in 192.0.0.0/24 (PCP anycast)
    "2606:4700:4700::1111",
    "2620:1ec:bdf::1",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
]


@pytest.mark.parametrize("address", NOT_PUBLIC_IPV4)
def test_ipv4_special_purpose_and_azure_platform_addresses_are_not_public(address):
    assert not is_public_address(address)
    assert not may_connect(address, allow_loopback=True) or address == "127.0.0.1"


@pytest.mark.parametrize("address", NOT_PUBLIC_IPV6)
def test_ipv6_special_purpose_addresses_are_not_public(address):
    assert not is_public_address(address)
    assert not may_connect(address, allow_loopback=True) or address == "::1"


@pytest.mark.parametrize("address", CARRYING_IPV4)
def test_ipv6_forms_carrying_a_non_public_ipv4_address_are_not_public(address):
    assert not is_public_address(address)
    assert not may_connect(address, allow_loopback=True)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public_in_each_family_and_form(address):
    assert is_public_address(address)
    assert may_connect(address, allow_loopback=False)
    host = f"[{address}]" if ":" in address else address
    assert check_callback_url(f"https://{host}/hook", allow_loopback_http=False)


# The first and last public addresses around the blocks that are not: the rule is no wider than IANA's.
BLOCK_EDGES = [
    "100.63.255.255",  # below shared address space 100.64.0.0/10
    "100.128.0.0",  # above it
    "172.15.255.255",  # around private 172.16.0.0/12
    "172.32.0.0",
    "192.167.255.255",  # around private 192.168.0.0/16
    "192.169.0.0",
    "198.17.255.255",  # around benchmarking 198.18.0.0/15
    "198.20.0.0",
    "223.255.255.255",  # the last before multicast
    "3fff:1000::1",  # just past documentation 3fff::/20
]


@pytest.mark.parametrize("address", BLOCK_EDGES)
def test_the_addresses_next_to_a_special_purpose_block_are_public(address):
    assert is_public_address(address)


@pytest.mark.parametrize("address", ["224.0.0.0", "3fff:fff:ffff::1", "100.64.0.0", "172.31.255.255"])
def test_the_first_and_last_address_of_a_block_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("text", ["example.com", "", "1.2.3", "[::1]", "08.8.8.8", " 8.8.8.8", "8.8.8.8/32"])
def test_what_is_not_an_ip_address_is_a_value_error_for_the_caller_to_resolve(text):
    """Callers tell names from addresses by this: a name is resolved (or refused) by them, never passed."""
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        is_public_address(text)


IPV4 = st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0, 2**32 - 1))


@given(address=IPV4)
def test_an_ipv6_form_that_reaches_an_ipv4_address_is_as_public_as_it(address):
    """Mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms reach the IPv4 address
    itself; Teredo (2001::/32) and IPv4-compatible (::a.b.c.d) forms are never public."""
    public = is_public_address(address)
    packed = ipaddress.IPv4Address(address).packed
    mapped = ipaddress.IPv6Address(bytes(10) + b"\xff\xff" + packed)
    nat64 = ipaddress.IPv6Address(bytes.fromhex("0064ff9b") + bytes(8) + packed)
    sixtofour = ipaddress.IPv6Address(b"\x20\x02" + packed + bytes(10))
    teredo = ipaddress.IPv6Address(
        bytes.fromhex("20010000") + bytes.fromhex("08080808") + bytes(4) + bytes(b ^ 0xFF for b in packed)
    )
    compatible = ipaddress.IPv6Address(bytes(12) + packed)
    assert [is_public_address(str(ip)) for ip in (mapped, nat64, sixtofour)] == [public] * 3
    assert not is_public_address(str(teredo))
    assert not is_public_address(str(compatible))


def test_the_platform_address_is_refused_with_a_clear_reason():
    with pytest.raises(ServiceError) as refused:
        check_callback_url("https://168.63.129.16/machine?comp=goalstate", allow_loopback_http=True)
    assert "Azure platform address" in refused.value.errors[0].message


BODY = '{"user":"alice@contoso.test","current":{"availability":"Busy"},"note":"café"}'.encode()
DELIVERY = "0f2e4c6a8b1d3f5e7a9c0b2d4e6f8a1c.a11ce000-0000-4000-8000-000000000001.0001.0002"


def test_a_new_secret_is_a_whsec_key_of_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(signing_key(secret)) == 32
    assert new_secret() != secret


def test_the_official_library_verifies_a_notification_signed_now():
    secret = new_secret()
    headers = signed_headers(BODY, secret, DELIVERY, datetime.now(UTC))
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == DELIVERY
    assert headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize(("minutes", "why"), [(-6, "too old"), (6, "too new")])
def test_the_official_library_refuses_a_notification_signed_too_long_ago_or_ahead(minutes, why):
    """A captured notification replayed later carries its old timestamp, which the signature covers."""
    secret = new_secret()
    headers = signed_headers(BODY, secret, DELIVERY, datetime.now(UTC) + timedelta(minutes=minutes))
    with pytest.raises(WebhookVerificationError, match=why):
        Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (
            {**h, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()))},
            b,
        ),  # a fresh stamp
        lambda h, b: ({**h, "webhook-id": h["webhook-id"] + "x"}, b),  # another id, to pass a dedupe
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-signature": "v1," + "A" * 44}, b),
    ],
)
def test_the_signature_covers_the_id_the_timestamp_and_the_body(tamper):
    secret = new_secret()
    sent = signed_headers(BODY, secret, DELIVERY, datetime.now(UTC) - timedelta(seconds=90))
    headers, body = tamper(sent, BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, sent)  # and another watch's secret never verifies


def test_a_watch_from_before_0_7_keeps_its_secret_as_the_key_and_verifies_with_the_library():
    """Secrets made before 0.7 have no prefix: their UTF-8 bytes are the key, given to the library raw or
    written as whsec_ + their base64; the deprecated header is computed as before."""
    old = "q8Xw2l0bLr3W6tJv9QpYz1HcKmN4sDfEgAiUoP7yRe0"  # secrets.token_urlsafe(32), as 0.6 made them
    headers = signed_headers(BODY, old, DELIVERY, datetime.now(UTC))
    assert Webhook(old.encode()).verify(BODY, headers)
    assert Webhook("whsec_" + base64.b64encode(old.encode()).decode()).verify(BODY, headers)
    expected = "sha256=" + hmac.new(old.encode(), BODY, hashlib.sha256).hexdigest()
    assert headers["X-Presence-Signature"] == legacy_signature(BODY, old) == expected
    assert headers["X-Presence-Delivery"] == DELIVERY


def test_the_deprecated_header_still_signs_the_body_with_the_secret_as_written():
    secret = new_secret()
    headers = signed_headers(BODY, secret, DELIVERY, datetime.now(UTC))
    expected = "sha256=" + hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    assert headers["X-Presence-Signature"] == expected


T1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T2 = T1 + timedelta(minutes=1)
RENEWER = "timer:renew_sessions"


@pytest.mark.parametrize(
    ("writes", "expected"),
    [
        ([], Cause("other")),
        ([Write(T1 + timedelta(seconds=20), "session.set", "function-key", None)], Cause("service")),
        ([Write(T2, "schedule.start", "timer:renew_sessions", "s1")], Cause("service", "s1")),
        ([Write(T1, "session.set", "function-key", None)], Cause("other")),  # seen by the previous read
        ([Write(T1 + timedelta(seconds=5), "statusMessage.set", "function-key", None)], Cause("other")),
        ([Write(T1 + timedelta(seconds=5), "session.set", RENEWER, None)], Cause("other")),  # a renewal
        ([Write(T1 + timedelta(seconds=5), "session.clear", RENEWER, None)], Cause("service")),  # the end
        (
            [
                Write(T1 + timedelta(seconds=5), "schedule.start", RENEWER, "early"),
                Write(T1 + timedelta(seconds=50), "schedule.end", RENEWER, "late"),
            ],
            Cause("service", "late"),
        ),
    ],
)
def test_a_change_is_the_service_s_when_it_wrote_presence_between_the_two_reads(writes, expected):
    assert cause_of(writes, T1, T2, RENEWER) == expected


def test_a_change_s_id_is_the_same_whoever_saw_it_and_never_another_s():
    assert delivery_key("u", AVAILABLE, BUSY, T1) == "u.0002.0001"
    assert delivery_key("u", AVAILABLE, BUSY, T1) == delivery_key("u", AVAILABLE, BUSY, T1)
    # Graph showing an older version again (0001 after 0002 after 0001) is a change of its own
    assert delivery_key("u", BUSY, AVAILABLE, T1) != delivery_key("u", AVAILABLE, BUSY, T1)
    unnumbered = Seen("Busy", "InACall", None)
    assert delivery_key("u", unnumbered, AVAILABLE, T1) != delivery_key("u", unnumbered, AVAILABLE, T2)


def test_a_watch_goes_back_to_what_its_receiver_was_last_told():
    def body(user: str, previous: str, current: str) -> bytes:
        return json.dumps(
            {
                "userId": user,
                "previous": {"availability": previous, "activity": previous},
                "current": {"availability": current, "activity": current},
            }
        ).encode()

    undelivered = [
        body("a", "Available", "Busy"),
        body("b", "Away", "Busy"),
        body("a", "Busy", "Away"),
        b"{}",
    ]
    assert told_before(undelivered) == {
        "a": Seen("Available", "Available", None),
        "b": Seen("Away", "Away", None),
    }


def test_a_receiver_may_ask_for_longer_but_never_past_an_hour():
    assert retry_delay(1, asked=600) == timedelta(minutes=10)
    assert retry_delay(5, asked=1) == timedelta(minutes=16)  # never shorter than the back-off
    assert retry_delay(1, asked=float("9" * 30)) == timedelta(hours=1)


def test_retries_double_from_a_minute_up_to_an_hour():
    assert [retry_delay(n) for n in (1, 2, 3, 7, 8, 50)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=60),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://[::1]/hook", "https://localhost/hook"])
def test_loopback_is_refused_unless_the_stack_is_local(url):
    assert check_callback_url(url, allow_loopback_http=True) == url
    with pytest.raises(ServiceError):
        check_callback_url(url, allow_loopback_http=False)
