"""The recurrence core: occurrences in local wall-clock time across daylight saving, validation as api.md
says, and catch-up after downtime, on an injected clock."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.platform.errors import ServiceError
from shared.schedules.recurrence import (
    MAX_OCCURRENCES,
    LastDone,
    Limits,
    Occurrence,
    Series,
    Transition,
    due_transition,
    next_occurrence,
    next_start_end,
    occurrence_at,
    occurrences,
    parse_series,
    status_at,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)  # a Monday morning, before anything below starts


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def series(
    start: str = "2027-03-01T09:00:00",
    end: str = "2027-03-01T12:00:00",
    time_zone: str | None = "Europe/Berlin",
    recurrence: str | None = "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    now: datetime | None = NOW,
) -> Series:
    return parse_series(start, end, time_zone, recurrence, now)


def starts_of(s: Series, count: int = 200) -> list[Occurrence]:
    return list(islice(occurrences(s), count))


def local_windows_of(some: list[Occurrence], zone: ZoneInfo) -> list[tuple[str, str]]:
    return [(o.start.astimezone(zone).isoformat(), o.end.astimezone(zone).isoformat()) for o in some]


def local_windows(s: Series, zone: ZoneInfo, count: int) -> list[tuple[str, str]]:
    return local_windows_of(list(islice(occurrences(s), count)), zone)


def refused(**kwargs: object) -> tuple[int, str, str]:
    with pytest.raises(ServiceError) as caught:
        series(**kwargs)
    return caught.value.status, caught.value.code, caught.value.errors[0].field


# --- wall clock across daylight saving ---------------------------------------------------------------


def test_weekly_in_berlin_stays_9_to_12_local_across_both_changes_of_2027():
    s = series()
    spring = [o for o in starts_of(s) if date(2027, 3, 24) <= o.start.date() <= date(2027, 3, 31)]
    autumn = [o for o in starts_of(s) if date(2027, 10, 27) <= o.start.date() <= date(2027, 11, 3)]
    # Summer time from Sunday 28 March to Sunday 31 October 2027: the UTC hours move, local ones do not.
    assert [(o.start, o.end) for o in spring] == [
        (utc(2027, 3, 24, 8), utc(2027, 3, 24, 11)),
        (utc(2027, 3, 26, 8), utc(2027, 3, 26, 11)),
        (utc(2027, 3, 29, 7), utc(2027, 3, 29, 10)),
        (utc(2027, 3, 31, 7), utc(2027, 3, 31, 10)),
    ]
    assert [(o.start, o.end) for o in autumn] == [
        (utc(2027, 10, 27, 7), utc(2027, 10, 27, 10)),
        (utc(2027, 10, 29, 7), utc(2027, 10, 29, 10)),
        (utc(2027, 11, 1, 8), utc(2027, 11, 1, 11)),
        (utc(2027, 11, 3, 8), utc(2027, 11, 3, 11)),
    ]
    year = [o for o in starts_of(s) if o.start.year == 2027]
    assert len(year) == 132  # every Monday, Wednesday and Friday from 1 March on
    assert {(o.start.astimezone(BERLIN).hour, o.end.astimezone(BERLIN).hour) for o in year} == {(9, 12)}
    assert [o.index for o in year] == list(range(132))


def test_weekly_in_new_york_follows_its_own_change_dates():
    s = series(time_zone="America/New_York")
    # New York: summer time from 14 March to 7 November 2027, two and one weeks off Berlin's.
    starts = {o.start.date(): o.start for o in starts_of(s)}
    assert starts[date(2027, 3, 12)] == utc(2027, 3, 12, 14)
    assert starts[date(2027, 3, 15)] == utc(2027, 3, 15, 13)
    assert starts[date(2027, 11, 5)] == utc(2027, 11, 5, 13)
    assert starts[date(2027, 11, 8)] == utc(2027, 11, 8, 14)
    berlin = {o.start.date(): o.start for o in starts_of(series())}
    assert starts[date(2027, 3, 22)] - berlin[date(2027, 3, 22)] == timedelta(hours=5)  # 6 on most days
    assert starts[date(2027, 4, 5)] - berlin[date(2027, 4, 5)] == timedelta(hours=6)
    assert {(o.start.astimezone(NEW_YORK).hour, o.end.astimezone(NEW_YORK).hour) for o in starts_of(s)} == {
        (9, 12)
    }


def test_a_windows_zone_name_gives_the_same_occurrences_as_its_iana_zone():
    assert starts_of(series(time_zone="W. Europe Standard Time")) == starts_of(series())


def test_an_overnight_occurrence_keeps_its_local_end_when_the_clocks_go_back():
    s = series("2027-10-29T22:00:00", "2027-10-30T06:00:00", recurrence="FREQ=DAILY;COUNT=3")
    assert [o.end - o.start for o in occurrences(s)] == [
        timedelta(hours=8),
        timedelta(hours=9),  # 22:00 to 06:00 through the night the clocks go back
        timedelta(hours=8),
    ]
    assert {o.end.astimezone(BERLIN).hour for o in occurrences(s)} == {6}


# --- gap and fold -------------------------------------------------------------------------------------


def test_a_start_in_the_spring_forward_gap_takes_the_offset_from_before_the_gap():
    s = series("2027-03-27T02:30:00", "2027-03-27T04:00:00", recurrence="FREQ=DAILY;COUNT=3")
    assert local_windows(s, BERLIN, 3) == [
        ("2027-03-27T02:30:00+01:00", "2027-03-27T04:00:00+01:00"),
        # 02:30 does not exist on 28 March: RFC 5545 §3.3.5 reads it with +01:00, i.e. 03:30 summer time
        ("2027-03-28T03:30:00+02:00", "2027-03-28T04:00:00+02:00"),
        ("2027-03-29T02:30:00+02:00", "2027-03-29T04:00:00+02:00"),
    ]
    one_off = series("2027-03-28T02:30:00", "2027-03-28T04:00:00", recurrence=None)
    assert one_off.start == next(islice(occurrences(s), 1, None)).start  # the same rule as parse_until


def test_a_gap_start_whose_local_end_comes_first_lasts_the_elapsed_length():
    s = series("2027-03-27T02:30:00", "2027-03-27T03:15:00", recurrence="FREQ=DAILY;COUNT=3")
    gap_day = list(occurrences(s))[1]
    assert gap_day.start.astimezone(BERLIN).isoformat() == "2027-03-28T03:30:00+02:00"
    assert gap_day.end - gap_day.start == timedelta(minutes=45)


def test_a_repeated_local_time_is_its_first_instance():
    s = series("2027-10-30T02:30:00", "2027-10-30T03:30:00", recurrence="FREQ=DAILY;COUNT=3")
    assert local_windows(s, BERLIN, 3) == [
        ("2027-10-30T02:30:00+02:00", "2027-10-30T03:30:00+02:00"),
        # 02:30 happens twice on 31 October: the first, in summer time; the end 03:30 is in winter time
        ("2027-10-31T02:30:00+02:00", "2027-10-31T03:30:00+01:00"),
        ("2027-11-01T02:30:00+01:00", "2027-11-01T03:30:00+01:00"),
    ]
    assert [o.end - o.start for o in occurrences(s)] == [timedelta(hours=h) for h in (1, 2, 1)]


def test_daylight_saving_that_folds_two_starts_together_beyond_the_checked_prefix_keeps_one():
    # 02:45 and 03:45 daily; the first 500 (checked for overlaps) end before the clocks go forward on
    # 29 March 2026, when 02:45 reads as 03:45 summer time, the very instant of the second start.
    s = series(
        "2025-04-01T02:45", "2025-04-01T03:00", recurrence="FREQ=DAILY;BYHOUR=2,3", now=utc(2025, 4, 1)
    )
    around = [
        o for o in islice(occurrences(s), 800) if date(2026, 3, 28) <= o.start.date() <= date(2026, 3, 30)
    ]
    assert local_windows_of(around, BERLIN) == [
        ("2026-03-28T02:45:00+01:00", "2026-03-28T03:00:00+01:00"),
        ("2026-03-28T03:45:00+01:00", "2026-03-28T04:00:00+01:00"),
        ("2026-03-29T03:45:00+02:00", "2026-03-29T04:00:00+02:00"),  # one, lasting the elapsed 15 minutes
        ("2026-03-30T02:45:00+02:00", "2026-03-30T03:00:00+02:00"),
        ("2026-03-30T03:45:00+02:00", "2026-03-30T04:00:00+02:00"),
    ]
    assert [o.index for o in around] == list(range(722, 727))


# --- COUNT, UNTIL, one-offs ---------------------------------------------------------------------------


def test_count_limits_the_series():
    s = series(recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10")
    assert [o.index for o in occurrences(s)] == list(range(10))
    assert list(occurrences(s))[-1].start == utc(2027, 3, 22, 8)


@pytest.mark.parametrize(
    ("until", "last_day"),
    [
        ("20270319T080000Z", date(2027, 3, 19)),  # an instant in UTC: the last start, inclusive
        ("20270319T075959Z", date(2027, 3, 17)),
        ("20270319T090000", date(2027, 3, 19)),  # local wall time in timeZone
        ("20270319", date(2027, 3, 19)),  # a bare date includes that local day
        ("20270318", date(2027, 3, 17)),
    ],
)
def test_until_is_inclusive(until, last_day):
    s = series(recurrence=f"FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL={until}")
    assert list(occurrences(s))[-1].start.date() == last_day


def test_the_rrule_prefix_and_lower_case_are_accepted():
    assert starts_of(series(recurrence="rrule:freq=weekly;byday=mo,we,fr")) == starts_of(series())


def test_a_one_off_is_one_occurrence_and_its_time_zone_is_optional():
    s = series("2027-03-02T09:00:00+01:00", "2027-03-02T10:30:00Z", time_zone=None, recurrence=None)
    assert list(occurrences(s)) == [Occurrence(utc(2027, 3, 2, 8), utc(2027, 3, 2, 10, 30), 0)]
    assert next_start_end(s, NOW) == (utc(2027, 3, 2, 8), utc(2027, 3, 2, 10, 30))


def test_a_one_off_that_started_already_is_running_now():
    s = series("2027-02-28T09:00:00", "2027-03-01T09:00:00", recurrence=None)
    running = occurrence_at(s, NOW)
    assert running == Occurrence(utc(2027, 2, 28, 8), utc(2027, 3, 1, 8), 0)
    assert next_start_end(s, NOW) == (None, utc(2027, 3, 1, 8))
    assert due_transition(s, None, NOW) == Transition("start", running)


def test_a_recurring_series_that_began_in_the_past_is_accepted_while_occurrences_remain():
    s = series("2026-01-05T09:00:00", "2026-01-05T12:00:00", now=utc(2027, 3, 1, 9))
    running = occurrence_at(s, utc(2027, 3, 1, 9))
    assert running is not None
    assert running.start == utc(2027, 3, 1, 8)
    assert next_start_end(s, utc(2027, 3, 1, 9)) == (utc(2027, 3, 3, 8), utc(2027, 3, 1, 11))


def test_a_start_with_an_offset_recurs_at_its_local_time_in_the_time_zone():
    s = series("2027-03-01T08:00:00Z", "2027-03-01T11:00:00Z")
    assert starts_of(s) == starts_of(series())


def test_times_are_kept_to_the_second():
    s = series("2027-03-01T09:00:00.900", "2027-03-01T12:00:00.100")
    assert (s.start, s.end) == (utc(2027, 3, 1, 8), utc(2027, 3, 1, 11))


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"start": "next monday"}, "invalidTime", "start"),
        ({"start": "2027-03-01T09:00Z", "time_zone": None, "recurrence": None}, "invalidTime", "end"),
        ({"end": "2027-03-01T09:00:00"}, "invalidTime", "end"),  # end == start
        ({"end": "2027-03-01T08:00:00", "recurrence": None}, "invalidTime", "end"),
        ({"start": "2027-02-01T09:00", "end": "2027-02-01T12:00", "recurrence": None}, "invalidTime", "end"),
        ({"time_zone": None}, "invalidTimeZone", "timeZone"),  # a recurrence needs one
        ({"time_zone": "CET"}, "invalidTimeZone", "timeZone"),
        ({"time_zone": "Mars/Olympus", "recurrence": None}, "invalidTimeZone", "timeZone"),
    ],
)
def test_times_and_zones_are_400s_naming_the_field(kwargs, code, field):
    assert refused(**kwargs) == (400, code, field)


@pytest.mark.parametrize(
    "recurrence",
    [
        "",
        "every monday",
        "FREQ=FORTNIGHTLY",
        "BYDAY=MO",  # no FREQ
        "FREQ=HOURLY",
        "FREQ=MINUTELY;COUNT=5",
        "FREQ=SECONDLY",
        "DTSTART:20270301T090000\nRRULE:FREQ=DAILY",
        "DTSTART;TZID=Europe/Berlin:20270301T090000",
        "RRULE:FREQ=DAILY\nEXDATE:20270302T090000",
        "RRULE:FREQ=DAILY\nRDATE:20270302T090000",
        "RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY",
        "FREQ=DAILY;BYEASTER=0",  # dateutil's, not RFC 5545's
        "FREQ=DAILY;BYDAY=XX",
        "FREQ=MONTHLY;BYDAY=+9MO",
        "FREQ=DAILY;BYHOUR=25",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=\u00b2",  # superscript two: str.isdigit says yes, int() says no
        "FREQ=DAILY;COUNT=\u00b2",
        "FREQ=DAILY;COUNT=many",
        "FREQ=DAILY;COUNT=5;COUNT=6",
        "FREQ=DAILY;COUNT=5;UNTIL=20270401T000000Z",
        "FREQ=DAILY;UNTIL=2027-04-01",
        "FREQ=DAILY;UNTIL=20271399",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",  # no occurrence at all
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;UNTIL=20270201",  # ends before it starts
        "FREQ=DAILY;BYHOUR=9,11",  # 09:00-12:00 overlaps the 11:00 one
    ],
)
def test_a_recurrence_the_service_cannot_honour_is_a_400_on_recurrence(recurrence):
    assert refused(recurrence=recurrence) == (400, "invalidRecurrence", "recurrence")


def test_occurrences_longer_than_their_gap_overlap():
    with pytest.raises(ServiceError) as caught:
        series("2027-03-01T09:00:00", "2027-03-02T10:00:00", recurrence="FREQ=DAILY")
    assert caught.value.code == "invalidRecurrence"
    assert "overlap" in caught.value.detail
    back_to_back = series("2027-03-01T09:00:00", "2027-03-02T09:00:00", recurrence="FREQ=DAILY")
    first, second = islice(occurrences(back_to_back), 2)
    assert first.end == second.start


def test_an_overlap_daylight_saving_makes_within_the_checked_prefix_is_a_400():
    # 02:45 and 03:45 daily: on 28 March 2027 both read as 03:45 summer time.
    assert refused(start="2027-03-01T02:45", end="2027-03-01T03:00", recurrence="FREQ=DAILY;BYHOUR=2,3") == (
        400,
        "invalidRecurrence",
        "recurrence",
    )


def test_a_recurring_series_whose_occurrences_have_all_ended_is_a_400_on_recurrence():
    kwargs = {"start": "2026-01-05T09:00", "end": "2026-01-05T12:00", "recurrence": "FREQ=DAILY;COUNT=3"}
    assert refused(**kwargs) == (400, "invalidRecurrence", "recurrence")
    # Its `end` being in the past is no reason on its own.
    assert series(**kwargs, now=utc(2026, 1, 6, 9)).end == utc(2026, 1, 5, 11)


def test_a_stored_schedule_that_has_ended_since_is_read_again_without_the_checks_against_now():
    recurring = series("2026-01-05T09:00", "2026-01-05T12:00", recurrence="FREQ=DAILY;COUNT=3", now=None)
    one_off = series("2026-01-05T09:00", "2026-01-05T12:00", recurrence=None, now=None)
    assert next_start_end(recurring, NOW) == next_start_end(one_off, NOW) == (None, None)
    assert recurring == series(
        "2026-01-05T09:00",
        "2026-01-05T12:00",
        "Europe/Berlin",
        "FREQ=DAILY;COUNT=3",
        NOW - timedelta(days=500),
    )


# --- bounds -------------------------------------------------------------------------------------------


def test_an_open_ended_daily_rule_is_evaluated_within_bounds_even_far_in_the_future():
    s = series(recurrence="FREQ=DAILY")
    began = time.perf_counter()
    assert next_occurrence(s, utc(2400, 1, 1)) is None  # past the first MAX_OCCURRENCES
    assert status_at(s, None, utc(2400, 1, 1)) == "completed"
    assert next_start_end(s, utc(2400, 1, 1)) == (None, None)
    assert next_occurrence(s, utc(2040, 1, 1)) is not None
    assert time.perf_counter() - began < 1.5
    assert sum(1 for _ in occurrences(s)) == MAX_OCCURRENCES


def test_a_rule_that_never_matches_is_refused_without_running_to_year_9999():
    began = time.perf_counter()
    assert refused(recurrence="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31") == (
        400,
        "invalidRecurrence",
        "recurrence",
    )
    assert time.perf_counter() - began < 1.5  # dateutil alone: about 6 s


# --- queries and catch-up -----------------------------------------------------------------------------


def test_next_start_end_and_occurrence_at_around_one_occurrence():
    s = series(recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=2")
    first, second = occurrences(s)
    assert next_start_end(s, NOW) == (first.start, first.end)
    assert occurrence_at(s, NOW) is None
    assert occurrence_at(s, first.start) == first
    assert next_start_end(s, first.start) == (second.start, first.end)  # running: its end is next
    assert occurrence_at(s, first.end) is None  # the end is exclusive
    assert next_occurrence(s, first.end) == second
    assert next_start_end(s, second.start + timedelta(hours=1)) == (None, second.end)
    assert next_start_end(s, second.end) == (None, None)


def test_a_started_occurrence_ends_once_its_end_has_passed():
    s = series()
    third = list(islice(occurrences(s), 4))[3]
    assert due_transition(s, (3, "start"), third.end - timedelta(seconds=1)) is None
    assert due_transition(s, (3, "start"), third.end + timedelta(days=2)) == Transition("end", third)
    assert status_at(s, (3, "start"), third.end - timedelta(seconds=1)) == "active"
    assert status_at(s, (3, "start"), third.end) == "scheduled"  # never active past its end


def test_after_downtime_passed_occurrences_are_skipped_and_the_running_one_started():
    s = series()
    by_index = list(islice(occurrences(s), 8))
    now = by_index[6].start + timedelta(minutes=30)  # down through occurrences 4 and 5
    skip = due_transition(s, (3, "end"), now)
    assert skip == Transition("skip", by_index[5], range(4, 6))
    assert skip.done == (5, "end")
    start = due_transition(s, skip.done, now)
    assert start == Transition("start", by_index[6])
    assert start.done == (6, "start")
    assert due_transition(s, start.done, now) is None
    assert status_at(s, start.done, now) == "active"


def test_before_the_first_start_nothing_is_due_and_after_the_last_end_the_series_is_completed():
    s = series(recurrence="FREQ=DAILY;COUNT=2")
    _, second = occurrences(s)
    assert due_transition(s, None, NOW) is None
    assert status_at(s, None, NOW) == "scheduled"
    assert due_transition(s, (1, "end"), second.end + timedelta(days=1)) is None
    assert status_at(s, (1, "end"), second.end) == "completed"
    assert due_transition(s, None, second.end) == Transition("skip", second, range(2))
    assert status_at(s, None, second.end) == "completed"


def test_a_last_done_the_series_does_not_have_is_a_programming_error():
    s = series(recurrence="FREQ=DAILY;COUNT=2")
    with pytest.raises(ValueError, match="occurrence 7"):
        due_transition(s, (7, "start"), NOW)


CATCH_UP_SERIES = [
    series(recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=12"),
    series(recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR"),  # open-ended
    series("2027-03-26T22:00", "2027-03-27T06:00", recurrence="FREQ=DAILY;COUNT=6"),  # through the gap
    series("2027-03-26T02:30", "2027-03-26T03:15", recurrence="FREQ=DAILY;COUNT=6"),  # starts in the gap
    series("2027-03-01T09:00", "2027-03-02T09:00", recurrence="FREQ=DAILY;COUNT=8"),  # back to back
    series("2027-03-01T09:00", "2027-03-03T09:00", recurrence=None),
]


def boundaries(s: Series) -> list[datetime]:
    """Each start and end of the series' first occurrences, and a second either side."""
    second = timedelta(seconds=1)
    return [
        t + d for o in starts_of(s, 15) for t in (o.start, o.end) for d in (-second, timedelta(0), second)
    ]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), which=st.integers(0, len(CATCH_UP_SERIES) - 1))
def test_replaying_due_transitions_at_any_ticks_keeps_every_promise(data, which):
    s = CATCH_UP_SERIES[which]
    # Ticks at arbitrary minutes (gaps of any length are downtime) and right at the edges of occurrences.
    ticks = data.draw(
        st.lists(
            st.one_of(
                st.integers(0, 60 * 24 * 60).map(lambda minutes: NOW + timedelta(minutes=minutes)),
                st.sampled_from(boundaries(s)),
            ),
            min_size=1,
            max_size=30,
        ).map(sorted)
    )
    last: LastDone | None = None
    done: dict[int, list[str]] = {}
    for now in ticks:
        for _ in range(4):  # an end, a skip and a start at most
            transition = due_transition(s, last, now)
            if transition is None:
                break
            occurrence = transition.occurrence
            if transition.kind == "start":
                assert occurrence.start <= now < occurrence.end  # never started after its end
                assert last is None or last[1] == "end"  # never two running at once
            elif transition.kind == "end":
                assert last == (occurrence.index, "start")
                assert occurrence.end <= now
            else:
                assert occurrence.end <= now
                assert transition.skipped.stop == occurrence.index + 1
            for index in transition.skipped if transition.kind == "skip" else [occurrence.index]:
                done.setdefault(index, []).append(transition.kind)
            last = transition.done
        else:
            pytest.fail("due_transition did not settle")
        running = occurrence_at(s, now)
        expected = "active" if running else "completed" if next_occurrence(s, now) is None else "scheduled"
        assert status_at(s, last, now) == expected  # active exactly while an occurrence runs
    final = ticks[-1]
    for occurrence in islice(occurrences(s), max(done, default=0) + 2):
        steps = done.get(occurrence.index, [])
        if occurrence.end <= final:
            assert steps in (["start", "end"], ["skip"])
        elif occurrence.start <= final:
            assert steps == ["start"]
        else:
            assert steps == []


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo"]),
    first_day=st.dates(date(2027, 1, 1), date(2027, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    minutes=st.integers(1, 12 * 60),
)
def test_a_daily_series_keeps_its_local_times_wherever_they_exist(zone, first_day, hour, minute, minutes):
    tz = ZoneInfo(zone)
    first = datetime(first_day.year, first_day.month, first_day.day, hour, minute)
    last = first + timedelta(minutes=minutes)
    if last.replace(tzinfo=tz).astimezone(UTC) <= first.replace(tzinfo=tz).astimezone(UTC):  # start in a gap
        with pytest.raises(ServiceError, match="invalidTime"):
            parse_series(first.isoformat(), last.isoformat(), zone, "FREQ=DAILY;COUNT=60", utc(2026, 1, 1))
        return
    s = parse_series(first.isoformat(), last.isoformat(), zone, "FREQ=DAILY;COUNT=60", utc(2026, 1, 1))

    def exists(wall: datetime) -> bool:
        return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall

    for day, o in enumerate(occurrences(s)):
        wall_start = first + timedelta(days=day)
        wall_end = wall_start + timedelta(minutes=minutes)
        assert o.index == day
        if exists(wall_start):
            assert o.start.astimezone(tz).replace(tzinfo=None) == wall_start
        if exists(wall_start) and exists(wall_end):
            assert o.end.astimezone(tz).replace(tzinfo=None) == wall_end
        assert o.start < o.end


def test_a_daily_series_whose_first_start_falls_in_a_gap_keeps_its_time_on_the_days_after():
    """02:00 does not exist in New York on 2027-03-14: that occurrence starts at 03:00 (the offset from
    before the gap), and every later one at 02:00 again, as written, not at the first one's 03:00."""
    s = parse_series(
        "2027-03-14T02:00:00", "2027-03-14T02:30:00", "America/New_York", "FREQ=DAILY;COUNT=3", None
    )
    tz = ZoneInfo("America/New_York")
    walls = [(o.start.astimezone(tz).hour, o.end.astimezone(tz).strftime("%H:%M")) for o in occurrences(s)]
    assert walls == [(3, "03:30"), (2, "02:30"), (2, "02:30")]


# --- limits: how often, how long, how far ahead -------------------------------------------------------

EVERY_HOUR = ",".join(map(str, range(24)))
EVERY_MINUTE = ",".join(map(str, range(60)))


@pytest.mark.parametrize(
    ("recurrence", "detail"),
    [
        (f"FREQ=DAILY;BYHOUR={EVERY_HOUR};BYMINUTE={EVERY_MINUTE}", "up to 1440 occurrences a day"),
        (f"FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE={EVERY_MINUTE};BYSECOND=0,30", "up to 120 occurrences"),
        (f"FREQ=DAILY;BYHOUR={EVERY_HOUR};BYMINUTE=0,30", "up to 48 occurrences a day"),
        # BYSETPOS leaves one a day, but the parts bound what any day may get: refused all the same.
        (f"FREQ=DAILY;BYHOUR={EVERY_HOUR};BYMINUTE={EVERY_MINUTE};BYSETPOS=1", "up to 1440"),
        ("FREQ=MONTHLY;BYHOUR=9;BYMINUTE=0,10", "10 minutes apart"),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0,1", "1 seconds apart"),
        # 23:55 and the next day's 00:00: five minutes apart across midnight.
        ("FREQ=DAILY;BYHOUR=0,23;BYMINUTE=0,55", "5 minutes apart"),
    ],
)
def test_a_rule_finer_than_the_limits_is_a_400_on_recurrence(recurrence, detail):
    with pytest.raises(ServiceError) as caught:
        series("2027-03-01T09:00:00", "2027-03-01T09:01:00", recurrence=recurrence)
    assert (caught.value.code, caught.value.errors[0].field) == ("invalidRecurrence", "recurrence")
    assert detail in caught.value.detail


def test_the_limits_are_settings():
    every_5_minutes = "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,5,10,15"
    with pytest.raises(ServiceError):
        series("2027-03-01T09:00:00", "2027-03-01T09:01:00", recurrence=every_5_minutes)
    loose = Limits(min_gap=timedelta(minutes=5), max_per_day=4)
    s = parse_series(
        "2027-03-01T09:00:00", "2027-03-01T09:01:00", "Europe/Berlin", every_5_minutes, NOW, loose
    )
    assert [o.start.minute for o in starts_of(s, 4)] == [0, 5, 10, 15]
    with pytest.raises(ServiceError):
        parse_series(
            "2027-03-01T09:00:00",
            "2027-03-01T09:01:00",
            "Europe/Berlin",
            every_5_minutes,
            NOW,
            Limits(min_gap=timedelta(minutes=5), max_per_day=3),
        )


def test_hourly_through_byhour_is_within_the_defaults():
    s = series("2027-03-01T00:00:00", "2027-03-01T00:30:00", recurrence=f"FREQ=DAILY;BYHOUR={EVERY_HOUR}")
    assert len(starts_of(s, 48)) == 48


def test_a_gap_daylight_saving_narrows_among_the_first_occurrences_is_a_400():
    # 01:50 and 03:00 are 70 minutes apart, but 10 on 28 March 2027, when Berlin skips 02:00-03:00.
    rule = "FREQ=DAILY;BYHOUR=1,3;BYMINUTE=0,50"
    with pytest.raises(ServiceError) as caught:
        series("2027-03-01T01:00:00", "2027-03-01T01:05:00", recurrence=rule)
    assert "2027-03-28T01:50:00+01:00 and 2027-03-28T03:00:00+02:00, 10 minutes apart" in caught.value.detail
    # Past the first 500 occurrences it is not seen (docs/api.md, Limits): the next change is 26 March 2028.
    assert series("2027-04-01T01:00:00", "2027-04-01T01:05:00", recurrence=rule)


def test_no_hold_lasts_longer_than_max_hold_days_however_it_was_asked():
    with pytest.raises(ServiceError) as caught:
        series("2027-03-01T09:00:00", "9999-01-01T00:00:00", recurrence=None)
    assert (caught.value.code, caught.value.errors[0].field) == ("invalidTime", "end")
    assert "7 days" in caught.value.detail
    assert series("2027-03-01T09:00:00", "2027-03-08T09:00:00", recurrence=None)
    with pytest.raises(ServiceError):
        series("2027-03-01T09:00:00", "2027-03-08T09:00:01", recurrence=None)
    with pytest.raises(ServiceError) as caught:  # each occurrence of a recurrence too
        series("2027-03-01T09:00:00", "2027-03-09T09:00:00", recurrence="FREQ=MONTHLY")
    assert (caught.value.code, caught.value.errors[0].field) == ("invalidTime", "end")
    longer = parse_series(
        "2027-03-01T09:00:00",
        "2027-03-09T09:00:00",
        "Europe/Berlin",
        "FREQ=MONTHLY",
        NOW,
        Limits(max_hold_days=8),
    )
    assert starts_of(longer, 1)[0].end == utc(2027, 3, 9, 8)


def test_a_start_more_than_two_years_ahead_is_a_400_on_start():
    assert refused(start="2029-03-04T09:00:00", end="2029-03-04T10:00:00", recurrence=None) == (
        400,
        "invalidTime",
        "start",
    )
    assert series("2029-03-01T09:00:00", "2029-03-01T10:00:00", recurrence=None)
