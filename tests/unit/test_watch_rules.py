"""Presence watches, the pure rules: what a change is, what a filter lets through, where notifications
may go, and their signature."""

from __future__ import annotations

import pytest

from shared.errors import ServiceError
from shared.watch_rules import Filter, Seen, changed, check_callback_url, sign, verify

BUSY = Seen("Busy", "InACall", "0001")
AVAILABLE = Seen("Available", "Available", "0002")


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, BUSY, False),  # the first read is the baseline
        (BUSY, Seen("Busy", "InACall", "0003"), False),  # Graph updated something that does not show here
        (BUSY, AVAILABLE, True),
        (BUSY, Seen("Busy", "InAMeeting", "0003"), True),  # same availability, other activity
        (BUSY, Seen("Available", "Available", "0001"), False),  # same sequence number: the same presence
        (Seen("Busy", "InACall", None), AVAILABLE, True),  # no sequence number: the values decide
    ],
)
def test_a_change_is_another_availability_or_activity(previous, current, expected):
    assert changed(previous, current) is expected


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
    ],
)
def test_other_callbacks_are_a_400_naming_the_field(url):
    with pytest.raises(ServiceError) as refused:
        check_callback_url(url, allow_loopback_http=True)
    assert (refused.value.status, refused.value.code) == (400, "invalidCallbackUrl")
    assert refused.value.errors[0].field == "callbackUrl"


def test_a_signature_verifies_only_the_same_body_with_the_same_secret():
    body, secret = b'{"user": "alice@contoso.test"}', b"s3cret"
    header = sign(body, secret)
    assert header.startswith("sha256=")
    assert verify(body, secret, header)
    assert not verify(body + b" ", secret, header)
    assert not verify(body, b"other", header)
    assert not verify(body, secret, None)
