"""Retry-After, read once for the gateway, the batch retries and the webhook sender: both forms, clamped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.platform.graph import _answer_error
from shared.platform.retry_after import retry_after_seconds

NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 12 ", 12.0),
        ("Mon, 02 Mar 2026 09:00:07 GMT", 7.0),  # IMF-fixdate
        ("Monday, 02-Mar-26 09:00:07 GMT", 7.0),  # obsolete RFC 850 form
        ("Mon Mar  2 09:00:07 2026", 7.0),  # obsolete asctime form, GMT by definition
        ("Sun, 01 Mar 2026 09:00:00 GMT", 0.0),  # a date in the past: no wait
        ("86400", 3600.0),  # clamped to `longest`
        ("Tue, 03 Mar 2026 09:00:00 GMT", 3600.0),
    ],
)
def test_both_forms_are_read_and_clamped(value, expected):
    assert retry_after_seconds(value, NOW, longest=3600) == expected


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "1.5", "Mon, 99 Foo 2026"])
def test_a_missing_or_unreadable_value_gives_the_default(value):
    assert retry_after_seconds(value, NOW, longest=3600) is None
    assert retry_after_seconds(value, NOW, longest=3600, default=30) == 30


def test_an_http_date_is_read_against_the_given_clock():
    later = NOW + timedelta(seconds=5)
    assert retry_after_seconds("Mon, 02 Mar 2026 09:00:07 GMT", later, longest=60) == 2.0


def test_the_gateway_passes_graph_s_retry_after_on_in_seconds_or_its_default():
    def passed_on(status: int, headers: dict[str, str]) -> str:
        return _answer_error(status, headers, None, "r", "p", "u").headers["Retry-After"]

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert passed_on(429, {"retry-after": "7"}) == "7"
    assert 19 <= int(passed_on(429, {"retry-after": soon})) <= 20
    assert (passed_on(429, {}), passed_on(503, {}), passed_on(503, {"retry-after": "soon"})) == (
        "30",
        "10",
        "10",
    )
