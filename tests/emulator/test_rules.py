"""Graph's validation rules as pure functions: ISO 8601 durations, zones, CSDL-declared bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localdev.graph import rules
from localdev.graph.csdl import schema
from localdev.graph.errors import GraphError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT4H", timedelta(hours=4)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P7D", timedelta(days=7)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("-PT5M", timedelta(minutes=-5)),
    ],
)
def test_iso8601_durations_parse(text, expected):
    assert rules.parse_duration(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "300",
        300,
        300.0,
        True,
        None,
        "5 minutes",
        "0:05:00",
        "P",
        "PT",
        "P1DT",
        "pt5m",
        "P1Y",
        "P1M",
        "PT1.5H",
        " PT5M",
    ],
)
def test_anything_but_an_odata_duration_string_is_refused(value):
    with pytest.raises(GraphError) as caught:
        rules.parse_duration(value)
    assert caught.value.status == 400


@given(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)).map(
        lambda d: timedelta(seconds=int(d.total_seconds()))
    )
)
def test_format_and_parse_duration_round_trip(duration):
    assert rules.parse_duration(rules.format_duration(duration)) == duration


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("UTC", "2026-11-23T17:00:00", datetime(2026, 11, 23, 17, tzinfo=UTC)),
        ("Europe/Berlin", "2026-11-23T17:00:00", datetime(2026, 11, 23, 16, tzinfo=UTC)),
        ("Pacific Standard Time", "2026-11-23T17:00:00", datetime(2026, 11, 24, 1, tzinfo=UTC)),
        (
            "W. Europe Standard Time",
            "2026-07-01T12:00:00.1234567",
            datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_expiry_is_read_in_utc_iana_and_windows_zones(zone, local, utc):
    assert rules.expiry_instant(local, zone, datetime(2026, 1, 1, tzinfo=UTC)) == utc


def test_csdl_copy_declares_the_presence_actions_and_their_parameters():
    actions = schema().actions
    assert set(actions["setPresence"]) == {"sessionId", "availability", "activity", "expirationDuration"}
    assert set(actions["setUserPreferredPresence"]) == {"availability", "activity", "expirationDuration"}
    assert set(actions["clearPresence"]) == {"sessionId"}
    assert set(actions["clearUserPreferredPresence"]) == set()
    assert actions["setPresence"]["expirationDuration"].type == "Edm.Duration"
    assert set(schema().complex_types["graph.itemBody"]) == {"content", "contentType"}


def test_a_collection_parameter_refuses_null_elements():
    with pytest.raises(GraphError):
        rules.check_action_body("getPresencesByUserId", {"ids": [None]})


def test_an_odata_type_annotation_must_name_the_declared_type():
    good = {"statusMessage": {"@odata.type": "#microsoft.graph.presenceStatusMessage"}}
    rules.check_action_body("setStatusMessage", good)
    with pytest.raises(GraphError):
        rules.check_action_body(
            "setStatusMessage", {"statusMessage": {"@odata.type": "#microsoft.graph.itemBody"}}
        )
