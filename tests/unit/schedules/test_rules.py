"""What a schedule's start and end do to the user's hold (pure), and how the hold core treats the parts an
occurrence owns: the Graph calls are read off `plan`, as the shell would make them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.holds.rules import (
    RESTORED,
    Hold,
    MessageHold,
    SetMessage,
    SetSession,
    applied,
    next_due,
    plan,
    tidy,
)
from shared.schedules.recurrence import Occurrence
from shared.schedules.rules import Running, abandoned, ended, owner_of, started
from shared.schedules.store import ScheduleRecord

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
USER = "a11ce000-0000-4000-8000-000000000001"


def running(
    schedule_id: str, start: int, end: int, *, message: str | None = "Lunch", presence=None, restore=True
) -> Running:
    record = ScheduleRecord(
        id=schedule_id,
        user="alice@contoso.test",
        user_id=USER,
        start="2026-11-23T08:00:00",
        end="2026-11-23T09:00:00",
        time_zone="UTC",
        recurrence=None,
        status_message=message,
        presence=presence,
        preferred_presence=None,
        restore_previous=restore,
        status="active",
        created_at=T0,
        created_by="test",
        updated_at=T0,
    )
    occurrence = Occurrence(T0 + timedelta(minutes=start), T0 + timedelta(minutes=end), 0)
    return Running(record, occurrence)


def in_graph(hold: Hold, now: datetime) -> Hold:
    """The hold once Graph took every planned call."""
    for action in plan(hold, now):
        hold = applied(hold, action, now)
    return tidy(hold, now)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_start_remembers_what_it_replaces_and_sets_its_message_until_the_end():
    lunch = running("a" * 32, 0, 60)
    hold = started(Hold(USER, "alice"), lunch, T0, "In the office")
    assert plan(hold, T0) == [SetMessage("Lunch", at(60))]
    assert hold.message is not None
    assert hold.message.replaced == "In the office"
    assert hold.message.owner == owner_of(lunch.record, lunch.occurrence)


def test_an_expired_occurrence_message_waits_for_its_end_and_wakes_nobody():
    lunch = running("a" * 32, 0, 60)
    hold = in_graph(started(Hold(USER, "alice"), lunch, T0, "In the office"), T0)
    later = tidy(hold, at(61))  # renew_sessions ran first: the restore must not be lost
    assert later.message == hold.message
    assert next_due(later, at(61)) is None
    restored = ended(later, lunch, at(61), None, None)
    assert plan(restored, at(61)) == [SetMessage("In the office", None)]
    assert in_graph(restored, at(61)).message is None  # shown now, the user's again


def test_other_expired_messages_are_still_forgotten_at_their_expiry():
    hold = Hold(USER, "alice", message=MessageHold("Back soon", at(30), "api", T0))
    assert next_due(hold, T0) == at(30)
    assert tidy(hold, at(30)).message is None


def test_a_cancel_with_nothing_to_restore_clears_the_message_now():
    lunch = running("a" * 32, 0, 60)
    hold = in_graph(started(Hold(USER, "alice"), lunch, T0, None), T0)
    cancelled = ended(hold, lunch, at(10), "Lunch", None)
    assert cancelled.message is not None
    assert cancelled.message.owner == RESTORED
    assert plan(cancelled, at(10)) == [SetMessage("", None)]


def test_at_its_real_end_a_message_with_nothing_to_restore_is_left_to_graphs_expiry():
    lunch = running("a" * 32, 0, 60)
    hold = in_graph(started(Hold(USER, "alice"), lunch, T0, None), T0)
    assert plan(ended(hold, lunch, at(60), None, None), at(60)) == []


def test_the_users_message_stays_over_a_stacked_successor_whose_presence_comes_back():
    below = running("b" * 32, 0, 60, message="Workshop", presence=("Busy", "InACall"))
    top = running("c" * 32, 15, 30, message="Lunch", presence=("Away", "Away"))
    hold = in_graph(started(Hold(USER, "alice"), below, T0, None), T0)
    hold = in_graph(started(hold, top, at(15), "Workshop"), at(15))
    after = ended(hold, top, at(30), "My own note", below)  # the user set a note at 08:20
    assert after.message is None
    assert plan(after, at(30)) == [SetSession("Busy", "InACall", timedelta(minutes=30))]


def test_a_stacked_successor_shows_again_while_the_message_is_still_ours():
    below = running("b" * 32, 0, 60, message="Workshop")
    top = running("c" * 32, 15, 30, message="Lunch")
    hold = in_graph(started(Hold(USER, "alice"), below, T0, "In the office"), T0)
    hold = in_graph(started(hold, top, at(15), "Workshop"), at(15))
    after = ended(hold, top, at(30), None, below)
    assert plan(after, at(30)) == [SetMessage("Workshop", at(60))]
    assert after.message is not None
    assert after.message.replaced == "In the office"


def test_a_failed_schedule_leaves_its_message_to_graphs_expiry():
    lunch = running("a" * 32, 0, 60)
    hold = in_graph(started(Hold(USER, "alice"), lunch, T0, "In the office"), T0)
    left = abandoned(hold, lunch.record.id)
    assert left.message is not None
    assert left.message.replaced is None
    assert next_due(left, T0) == at(60)
    assert tidy(left, at(60)).message is None
    other = abandoned(hold, "d" * 32)
    assert other == hold
