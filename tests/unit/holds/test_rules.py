"""The hold core: which Graph calls keep a promise, and when, on an injected clock."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.holds.rules import (
    ClearPreferred,
    ClearSession,
    GraphSession,
    Hold,
    PreferredHold,
    SessionHold,
    SetPreferred,
    SetSession,
    applied,
    next_due,
    plan,
    tidy,
)
from shared.platform.durations import iso_duration

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
USER = "a11ce000-0000-4000-8000-000000000001"


def session_hold(availability: str, activity: str, minutes: int) -> Hold:
    return Hold(
        USER,
        "alice@contoso.test",
        session=SessionHold(availability, activity, T0 + timedelta(minutes=minutes), "api", T0),
    )


def run(
    hold: Hold, until: datetime, tick: timedelta = timedelta(minutes=1)
) -> tuple[Hold, list[tuple[datetime, object]]]:
    """Tick every minute from T0 to `until`, applying every planned action as if Graph accepted it."""
    calls: list[tuple[datetime, object]] = []
    now = T0
    while now <= until:
        due = next_due(hold, now)
        if due is not None and due <= now:
            for action in plan(hold, now):
                calls.append((now, action))
                hold = applied(hold, action, now)
            hold = tidy(hold, now)
        now += tick
    return hold, calls


def test_a_nine_hour_busy_session_is_renewed_with_the_fewest_calls():
    hold, calls = run(session_hold("Busy", "InACall", 540), T0 + timedelta(hours=10))
    sets = [(at - T0, iso_duration(a.expiration)) for at, a in calls if isinstance(a, SetSession)]
    assert sets == [
        (timedelta(0), "PT4H"),
        (timedelta(hours=3, minutes=55), "PT4H"),
        (timedelta(hours=7, minutes=50), "PT1H10M"),
    ]
    assert [at - T0 for at, a in calls if isinstance(a, ClearSession)] == [timedelta(hours=9)]
    assert hold.empty


def test_an_available_session_is_refreshed_before_it_fades():
    _, calls = run(session_hold("Available", "Available", 30), T0 + timedelta(minutes=40))
    set_times = [(at - T0).total_seconds() / 60 for at, a in calls if isinstance(a, SetSession)]
    assert set_times == [0, 4, 8, 12, 16, 20, 24, 28]
    gaps = [b - a for a, b in itertools.pairwise(set_times)]
    assert max(gaps) < 5  # Graph fades an unrefreshed Available session after 5 minutes
    assert [type(a) for _, a in calls][-1] is ClearSession


def test_a_short_hold_ends_with_graphs_minimum_and_a_clear():
    _, calls = run(session_hold("DoNotDisturb", "Presenting", 7), T0 + timedelta(minutes=10))
    assert [(at - T0, type(a).__name__) for at, a in calls] == [
        (timedelta(0), "SetSession"),
        (timedelta(minutes=7), "ClearSession"),
    ]
    assert calls[0][1].expiration == timedelta(minutes=7)


def test_a_preferred_presence_keeps_a_session_alive_and_both_end_together():
    preferred = PreferredHold(
        "DoNotDisturb", "DoNotDisturb", T0 + timedelta(hours=6), True, "api", T0, graph_expires_at=T0
    )
    hold, calls = run(Hold(USER, "alice", preferred=preferred), T0 + timedelta(hours=7))
    kinds = [(at - T0, type(a).__name__) for at, a in calls]
    assert kinds[:2] == [(timedelta(0), "SetSession"), (timedelta(0), "SetPreferred")]  # session first
    assert calls[0][1].availability == "Away"  # the keep-alive session never fades
    assert kinds[-2:] == [(timedelta(hours=6), "ClearPreferred"), (timedelta(hours=6), "ClearSession")]
    assert calls[1][1].expiration == timedelta(hours=6)
    assert hold.empty


def test_without_keep_alive_a_preferred_presence_sets_no_session():
    preferred = PreferredHold("Busy", "Busy", T0 + timedelta(hours=1), False, "api", T0, graph_expires_at=T0)
    _, calls = run(Hold(USER, "alice", preferred=preferred), T0 + timedelta(hours=2))
    assert [type(a) for _, a in calls] == [SetPreferred, ClearPreferred]


def test_an_explicit_session_wins_over_the_keep_alive_and_hands_back_to_it():
    preferred = PreferredHold("Busy", "Busy", T0 + timedelta(hours=2), True, "api", T0, graph_expires_at=T0)
    hold = replace(session_hold("Busy", "InACall", 30), preferred=preferred)
    _, calls = run(hold, T0 + timedelta(hours=3))
    sessions = [(at - T0, a.availability) for at, a in calls if isinstance(a, SetSession)]
    assert sessions == [(timedelta(0), "Busy"), (timedelta(minutes=30), "Away")]


def test_a_preferred_presence_longer_than_seven_days_is_renewed():
    until = T0 + timedelta(days=10)
    preferred = PreferredHold("Away", "Away", until, False, "api", T0, graph_expires_at=T0)
    _, calls = run(
        Hold(USER, "alice", preferred=preferred), until + timedelta(minutes=1), tick=timedelta(minutes=5)
    )
    sets = [(at - T0, a.expiration) for at, a in calls if isinstance(a, SetPreferred)]
    assert sets[0] == (timedelta(0), timedelta(days=7))
    assert sets[1][0] == timedelta(days=7) - timedelta(minutes=5)
    assert sets[1][0] + sets[1][1] == timedelta(days=10)


def test_a_session_that_nothing_wants_is_cleared_now():
    hold = Hold(USER, "alice", graph_session=GraphSession("Busy", "InACall", T0, T0 + timedelta(hours=1)))
    assert plan(hold, T0 + timedelta(minutes=1)) == [ClearSession()]
    assert next_due(hold, T0) == T0


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.integers(min_value=5, max_value=3 * 24 * 60),
    pair=st.sampled_from(
        [("Available", "Available"), ("Busy", "InACall"), ("Away", "Away"), ("DoNotDisturb", "Presenting")]
    ),
)
def test_any_session_hold_is_shown_without_a_gap_until_its_end_and_then_cleared(minutes, pair):
    """Property: at every minute of the hold Graph has our session at the held pair, neither expired nor
    faded; after the end nothing is left; no more setPresence calls than the 4-hour (or fade) rule needs."""
    end = T0 + timedelta(minutes=minutes)
    hold = session_hold(*pair, minutes)
    now = T0
    calls = 0
    while now <= end + timedelta(minutes=1):
        due = next_due(hold, now)
        if due is not None and due <= now:
            for action in plan(hold, now):
                calls += isinstance(action, SetSession)
                hold = applied(hold, action, now)
            hold = tidy(hold, now)
        have = hold.graph_session
        if now < end:
            assert have is not None
            assert (have.availability, have.activity) == pair
            assert have.lapses_at() > now
        now += timedelta(minutes=1)
    assert hold.empty
    period = 4 if pair[0] == "Available" else 235
    assert calls <= -(-minutes // period) + 1


def test_a_failure_backs_off():
    from shared.holds.rules import Failure

    hold = replace(
        session_hold("Busy", "InACall", 600), attempts=3, last_error=Failure("graphThrottled", "x", T0)
    )
    assert next_due(hold, T0) == T0 + timedelta(minutes=4)


@pytest.mark.parametrize("action", [ClearPreferred(), ClearSession()])
def test_clears_are_idempotent_in_the_model(action):
    hold = Hold(USER, "alice")
    assert applied(applied(hold, action, T0), action, T0) == applied(hold, action, T0)


def test_a_requested_status_message_is_set_once_then_left_to_graphs_expiry():
    from shared.holds.rules import MessageHold, SetMessage

    until = T0 + timedelta(hours=2)
    hold = Hold(USER, "alice", message=MessageHold("Lunch", until, "api", T0, in_graph=False))
    assert plan(hold, T0) == [SetMessage("Lunch", until)]
    hold = applied(hold, SetMessage("Lunch", until), T0)
    assert plan(hold, T0 + timedelta(minutes=1)) == []
    assert next_due(hold, T0) == until
    assert tidy(hold, until).message is None  # Graph expires it itself: no call at the end
