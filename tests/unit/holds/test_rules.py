"""The hold core: which Graph calls keep a promise, and when, on an injected clock."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.holds.rules import (
    ClearMessage,
    ClearPreferred,
    ClearSession,
    Failure,
    GraphSession,
    Hold,
    MessageHold,
    PreferredHold,
    SessionHold,
    SetMessage,
    SetPreferred,
    SetSession,
    applied,
    changes,
    next_due,
    plan,
    tidy,
    undo_change,
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


# --- a caller's change: changes() and undo_change() --------------------------------------------------------


def graph_session(availability: str, activity: str, set_at: datetime = T0, hours: int = 4) -> GraphSession:
    return GraphSession(availability, activity, set_at, set_at + timedelta(hours=hours))


def test_a_new_session_hold_needs_one_set_session_for_graphs_longest_session():
    current = Hold(USER, "alice")
    wanted = session_hold("Busy", "InACall", 540)
    assert changes(current, wanted, T0) == [SetSession("Busy", "InACall", timedelta(hours=4))]


def test_a_hold_already_shown_in_graph_needs_no_call_to_be_extended():
    shown = replace(session_hold("Busy", "InACall", 60), graph_session=graph_session("Busy", "InACall"))
    longer = replace(shown, session=replace(shown.session, until=T0 + timedelta(hours=3)))
    assert changes(shown, longer, T0 + timedelta(minutes=10)) == []
    other_pair = replace(longer, session=replace(longer.session, availability="Away", activity="Away"))
    assert changes(shown, other_pair, T0 + timedelta(minutes=10)) == [
        SetSession("Away", "Away", timedelta(minutes=170))
    ]


def test_a_renewal_that_happens_to_be_due_is_left_to_the_timer():
    """The session's renewal is due (EXPIRY_MARGIN before Graph's expiry): a caller who only sets a message
    makes that one call, not the renewal too."""
    now = T0 + timedelta(hours=3, minutes=56)
    current = replace(session_hold("Busy", "InACall", 600), graph_session=graph_session("Busy", "InACall"))
    assert plan(current, now) == [SetSession("Busy", "InACall", timedelta(hours=4))]  # due anyway
    wanted = replace(current, message=MessageHold("Lunch", None, "api", now, in_graph=False))
    assert changes(current, wanted, now) == [SetMessage("Lunch", None)]


def test_releasing_the_session_clears_it_even_when_no_record_shows_it_in_graph():
    current = Hold(USER, "alice")  # the record was lost, or the user set it
    assert changes(current, current, T0, release="session") == [ClearSession()]
    shown = replace(current, graph_session=graph_session("Busy", "InACall"))
    released = replace(shown, session=None)
    assert changes(shown, released, T0, release="session") == [ClearSession()]  # once, not twice


def test_releasing_the_session_never_clears_the_one_a_preferred_presence_keeps_alive():
    preferred = PreferredHold(
        "DoNotDisturb", "DoNotDisturb", T0 + timedelta(hours=2), True, "api", T0, T0 + timedelta(hours=2)
    )
    current = Hold(
        USER,
        "alice",
        session=SessionHold("Busy", "InACall", T0 + timedelta(hours=1), "api", T0),
        preferred=preferred,
        graph_session=graph_session("Busy", "InACall"),
    )
    released = replace(current, session=None)
    # the keep-alive pair takes the session over: no clear, which would show the user Offline
    assert changes(current, released, T0 + timedelta(minutes=5), release="session") == [
        SetSession("Away", "Away", timedelta(minutes=115))
    ]


def test_releasing_the_preferred_presence_clears_it_first_and_once():
    assert changes(Hold(USER, "alice"), Hold(USER, "alice"), T0, release="preferred") == [ClearPreferred()]
    preferred = PreferredHold(
        "Busy", "Busy", T0 + timedelta(hours=2), True, "api", T0, T0 + timedelta(hours=2)
    )
    current = Hold(USER, "alice", preferred=preferred, graph_session=graph_session("Away", "Away"))
    released = replace(current, preferred=None)
    # the session that kept it visible goes too, after it (a preferred presence without one shows Offline)
    assert changes(current, released, T0, release="preferred") == [ClearPreferred(), ClearSession()]
    ended = replace(current, preferred=replace(preferred, until=T0))  # its end is already due
    assert (
        changes(current, ended, T0 + timedelta(minutes=1), release="preferred").count(ClearPreferred()) == 1
    )


def test_releasing_the_message_always_clears_it_first():
    current = session_hold("Busy", "InACall", 60)
    assert changes(current, replace(current, session=None), T0, release="message") == [ClearMessage()]
    assert changes(Hold(USER, "alice"), session_hold("Busy", "InACall", 60), T0, release="message") == [
        ClearMessage(),
        SetSession("Busy", "InACall", timedelta(minutes=60)),
    ]


def test_a_schedules_ending_step_takes_the_clears_due_at_its_tick():
    """At a schedule's end the session it held is due to be cleared: left to renew_sessions it would show a
    tick longer, so the ending step makes that call; a caller's change leaves it to the timer."""
    end = T0 + timedelta(hours=1)
    current = replace(session_hold("Busy", "InACall", 60), graph_session=graph_session("Busy", "InACall"))
    assert plan(current, end) == [ClearSession()]
    assert changes(current, current, end) == []
    assert changes(current, current, end, ending=True) == [ClearSession()]
    preferred = PreferredHold("Busy", "Busy", end, False, "s1#1", T0, end)
    current = Hold(USER, "alice", preferred=preferred)
    assert changes(current, current, end) == []
    assert changes(current, current, end, ending=True) == [ClearPreferred()]
    # and the one application session due then: here the keep-alive taking over from the step's session
    keep_alive = PreferredHold(
        "Busy", "Busy", end + timedelta(hours=2), True, "api", T0, end + timedelta(hours=2)
    )
    current = replace(session_hold("Busy", "InACall", 60), preferred=keep_alive)
    current = replace(current, graph_session=graph_session("Busy", "InACall"))
    assert changes(current, current, end) == []
    assert changes(current, current, end, ending=True) == [SetSession("Away", "Away", timedelta(hours=2))]


def test_after_a_refused_change_only_what_graph_did_is_kept():
    """The caller set a session and a preferred presence; Graph took the session, refused the preferred one.
    The caller's intent is dropped, Graph's session is recorded, the failure state stays the hold's own."""
    failure = Failure("graphThrottled", "x", T0 - timedelta(minutes=1))
    current = Hold(USER, "alice", attempts=2, last_error=failure)
    outcome = replace(
        session_hold("Busy", "InACall", 60),
        preferred=PreferredHold("Busy", "Busy", T0 + timedelta(hours=1), False, "api", T0, T0),
        graph_session=graph_session("Busy", "InACall", hours=1),
        attempts=0,
        last_error=None,
    )
    undone = undo_change(current, outcome, [SetSession("Busy", "InACall", timedelta(hours=1))])
    assert undone.session is None  # the explicit hold was the caller's intent
    assert undone.preferred is None
    assert undone.graph_session == outcome.graph_session  # but Graph shows the session: so do our records
    assert (undone.attempts, undone.last_error) == (2, failure)


@pytest.mark.parametrize(
    ("done", "kept"),
    [
        ([], set()),
        ([SetSession("Busy", "InACall", timedelta(hours=1))], set()),
        ([SetPreferred("Busy", "Busy", timedelta(hours=1))], {"preferred"}),
        ([ClearPreferred()], {"preferred"}),
        ([ClearSession(), ClearPreferred()], {"preferred"}),
        ([SetMessage("Back soon", None)], {"message"}),
        ([ClearMessage()], {"message"}),
        ([ClearPreferred(), ClearMessage()], {"preferred", "message"}),
    ],
)
def test_a_part_graph_changed_takes_the_outcome_and_every_other_part_stays_as_it_was(done, kept):
    before = Hold(
        USER,
        "alice",
        preferred=PreferredHold("Away", "Away", T0 + timedelta(hours=2), False, "api", T0, T0),
        message=MessageHold("Lunch", None, "api", T0),
    )
    after = replace(
        before,
        preferred=PreferredHold("Busy", "Busy", T0 + timedelta(hours=1), False, "api", T0, T0),
        message=MessageHold("Back soon", None, "api", T0),
    )
    undone = undo_change(before, after, done)
    assert undone.preferred == (after if "preferred" in kept else before).preferred
    assert undone.message == (after if "message" in kept else before).message
