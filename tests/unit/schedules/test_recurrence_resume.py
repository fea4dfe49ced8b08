"""Resuming a series at a mark gives exactly what iterating from its first occurrence gives: for random
rules (INTERVAL, WKST, BYSETPOS, COUNT, UNTIL, several a day across daylight saving), random marks,
ages and nows; and a query does the same work at any age once the series is marked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.schedules import recurrence
from shared.schedules.recurrence import (
    MAX_OCCURRENCES,
    LastDone,
    Mark,
    Series,
    due_transition,
    mark_text,
    marked_by,
    next_occurrence,
    next_start_end,
    next_transition_at,
    occurrence_number,
    occurrences,
    parse_series,
    status_at,
    with_mark,
)

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "America/Santiago")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PREFIX = 120  # occurrences compared per example


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(("DAILY", "WEEKLY", "MONTHLY", "YEARLY")))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 5))}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=4, unique=True))
        if freq in {"MONTHLY", "YEARLY"} and draw(st.booleans()):
            days = [f"{draw(st.sampled_from(('1', '2', '-1')))}{day}" for day in days]
        parts.append("BYDAY=" + ",".join(days))
    if freq != "WEEKLY" and draw(st.booleans()):
        monthdays = draw(st.lists(st.sampled_from((1, 2, 15, 28, 29, 30, 31, -1)), min_size=1, max_size=3))
        parts.append("BYMONTHDAY=" + ",".join(map(str, sorted(set(monthdays)))))
    if draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, sorted(months))))
    if draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=4, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, sorted(hours))))
    if draw(st.booleans()):
        minutes = draw(st.lists(st.sampled_from((0, 15, 30, 45)), min_size=1, max_size=2, unique=True))
        parts.append("BYMINUTE=" + ",".join(map(str, sorted(minutes))))
    if draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from(('1', '-1', '2', '1,-1')))}")
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    ending = draw(st.sampled_from(("open", "count", "until")))
    if ending == "count":
        parts.append(f"COUNT={draw(st.integers(1, 200))}")
    elif ending == "until":
        parts.append(f"UNTIL={draw(st.integers(2000, 2045))}0{draw(st.integers(1, 9))}15T120000Z")
    return ";".join(parts)


@st.composite
def serieses(draw: st.DrawFn) -> Series:
    zone = draw(st.sampled_from(ZONES))
    start = draw(st.datetimes(datetime(1995, 1, 1), datetime(2035, 12, 31))).replace(microsecond=0)
    start = start.replace(minute=draw(st.sampled_from((0, 30, 45))), second=0)
    length = timedelta(minutes=draw(st.sampled_from((10, 45, 90, 180, 1500))))
    # now=None: nothing refused for overlapping, so the trimming and daylight-saving drops are exercised too.
    return parse_series(start.isoformat(), (start + length).isoformat(), zone, draw(rules()), None)


def _plain(series: Series, count: int = PREFIX) -> list:
    return list(islice(occurrences(series), count))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=serieses(), data=st.data())
def test_occurrences_resumed_at_any_mark_are_the_plain_ones(series: Series, data: st.DataObject) -> None:
    plain = _plain(series)
    if not plain:
        return
    k = data.draw(st.integers(0, len(plain) - 1))
    resumed = list(islice(occurrences(series, plain[k].mark), len(plain) - k))
    assert resumed == plain[k:]
    assert [o.mark for o in resumed] == [o.mark for o in plain[k:]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=serieses(), data=st.data())
def test_every_query_answers_the_same_from_any_mark(series: Series, data: st.DataObject) -> None:
    plain = _plain(series)
    if not plain:
        return
    k = data.draw(st.integers(0, len(plain) - 1))
    marked = replace(series, mark=plain[k].mark)
    # A now and a last step anywhere, or (where the answers turn) near the mark, often right at an edge.
    near = plain[max(0, k - 2) : k + 3]
    edges = [o.start for o in plain] + [o.end for o in plain]
    near_edges = [o.start for o in near] + [o.end for o in near]
    now = data.draw(
        st.one_of(
            st.sampled_from(near_edges),
            st.sampled_from(edges),
            st.builds(
                lambda at, seconds: at + timedelta(seconds=seconds),
                st.sampled_from(near_edges + edges),
                st.integers(-3 * 86_400, 3 * 86_400),
            ),
        )
    )
    done_index = data.draw(
        st.one_of(st.integers(max(0, k - 2), min(len(plain) - 1, k + 2)), st.integers(0, len(plain) - 1))
    )
    last_done: LastDone | None = data.draw(
        st.sampled_from((None, (done_index, "start"), (done_index, "end")))
    )
    for query in (due_transition, status_at, next_transition_at):
        assert query(marked, last_done, now) == query(series, last_done, now), query.__name__
    assert next_start_end(marked, now) == next_start_end(series, now)
    assert next_occurrence(marked, now) == next_occurrence(series, now)
    assert occurrence_number(marked, done_index) == occurrence_number(series, done_index)


def test_a_mark_near_the_bound_stops_at_max_occurrences() -> None:
    series = parse_series("2000-01-01T09:00:00", "2000-01-01T09:30:00", "Europe/Berlin", "FREQ=DAILY", None)
    plain = list(occurrences(series))
    assert len(plain) == MAX_OCCURRENCES
    assert list(occurrences(series, plain[-5].mark)) == plain[-5:]


def test_a_stored_mark_serves_only_its_own_series() -> None:
    series = parse_series("2000-01-01T09:00:00", "2000-01-01T09:30:00", "Europe/Berlin", "FREQ=DAILY", None)
    mark = next(islice(occurrences(series), 100, None)).mark
    assert mark is not None
    text = mark_text(series, mark)
    assert with_mark(series, text).mark == mark
    other = parse_series("2000-01-01T09:00:00", "2000-01-01T09:45:00", "Europe/Berlin", "FREQ=DAILY", None)
    assert with_mark(other, text).mark is None
    assert with_mark(series, "nonsense").mark is None
    # A mark the rule does not give there (a hand-edited row) is ignored: the plain iteration answers.
    wrong = replace(series, mark=Mark(100, 100, mark.wall + timedelta(minutes=1)))
    assert list(islice(occurrences(wrong, wrong.mark), 3)) == _plain(series, 3)


def test_parse_with_now_marks_the_last_occurrence_ended() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    series = parse_series("2006-06-01T09:00:00", "2006-06-01T09:30:00", "Europe/Berlin", "FREQ=DAILY", now)
    assert series.mark is not None
    ended = occurrence_number(replace(series, mark=None), series.mark.index)
    assert ended.end <= now < occurrence_number(replace(series, mark=None), series.mark.index + 1).end


def _windows_evaluated(series: Series, last_done: LastDone, now: datetime) -> int:
    """How many of the rule's occurrences one evaluation (what a tick and a view ask) turns into instants."""
    with mock.patch("shared.schedules.recurrence._to_utc", wraps=recurrence._to_utc) as to_utc:
        due_transition(series, last_done, now)
        status_at(series, last_done, now)
        next_transition_at(series, last_done, now)
        next_start_end(series, now)
    return to_utc.call_count


def test_a_marked_20_year_old_series_does_the_work_of_a_new_one() -> None:
    """Work, not time (bench/recurrence_age.py times it): the occurrences evaluated."""
    now = datetime(2026, 6, 1, 10, tzinfo=UTC)
    work = {}
    for years in (0, 20):
        start = datetime(2026 - years, 5, 31, 9)
        series = parse_series(
            start.isoformat(), (start + timedelta(hours=1)).isoformat(), "Europe/Berlin", "FREQ=DAILY", now
        )
        assert series.mark is not None
        last_done: LastDone = (series.mark.index, "end")
        work[years] = _windows_evaluated(series, last_done, now)
        if years:
            unmarked = _windows_evaluated(replace(series, mark=None), last_done, now)
    assert work[20] == work[0], work
    assert unmarked > 1000 * work[20], (unmarked, work)


def test_a_mark_in_the_first_week_keeps_the_week_cut_at_the_start() -> None:
    """dateutil's first WEEKLY period starts at DTSTART (a Wednesday here), and BYSETPOS counts within
    it: resuming there from the week's Monday would pick Monday and Wednesday instead of Wednesday and
    Friday."""
    series = parse_series(
        "2027-03-03T09:00:00",
        "2027-03-03T09:30:00",
        "Europe/Berlin",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=1,2",
        None,
    )
    plain = _plain(series, 6)
    assert [o.start.weekday() for o in plain[:2]] == [2, 4]
    assert list(islice(occurrences(series, plain[0].mark), 6)) == plain


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30",  # several a day, across New York's changes
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU;BYSETPOS=-1",
        "FREQ=MONTHLY;BYMONTHDAY=31,-1;COUNT=9",
    ],
)
def test_every_query_from_every_mark_at_every_edge(rule: str) -> None:
    """Exhaustive over a short stretch: each mark, each last step and each now at (or a second around)
    a start or an end."""
    series = parse_series("2027-03-05T01:00:00", "2027-03-05T01:45:00", "America/New_York", rule, None)
    plain = list(occurrences(replace(series, mark=None)))[:9]
    edges = {o.start for o in plain} | {o.end for o in plain}
    nows = sorted({edge + timedelta(seconds=delta) for edge in edges for delta in (-1, 0, 1)})
    steps: list[LastDone | None] = [None] + [
        (i, kind) for i in range(len(plain)) for kind in ("start", "end")
    ]
    for occurrence in plain:
        marked = replace(series, mark=occurrence.mark)
        for now in nows:
            assert next_start_end(marked, now) == next_start_end(series, now)
            assert next_occurrence(marked, now) == next_occurrence(series, now)
            for last_done in steps:
                for query in (due_transition, status_at, next_transition_at):
                    expected = query(series, last_done, now)
                    assert query(marked, last_done, now) == expected, (
                        query.__name__,
                        occurrence,
                        now,
                        last_done,
                    )


def test_a_series_without_a_mark_is_marked_where_parse_would_mark_it() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    parsed = parse_series("2006-06-01T09:00:00", "2006-06-01T09:30:00", "Europe/Berlin", "FREQ=DAILY", now)
    assert marked_by(replace(parsed, mark=None), now).mark == parsed.mark
    assert marked_by(parsed, now + timedelta(days=30)).mark == parsed.mark  # its own mark is kept
