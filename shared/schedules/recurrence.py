"""A schedule's occurrences and what is due at `now`: the pure recurrence core of `apply_schedules`.
Validates start/end/timeZone/recurrence as api.md says (400s naming the field); no storage, no Graph."""

# Choices, in one place:
# - **Wall clock.** The RRULE is evaluated in `timeZone` with DTSTART = the local start, so 09:00 stays 09:00
#   local across daylight-saving changes. Each occurrence ends at its local start + (local end - local start)
#   in wall-clock terms, then becomes an instant: a 09:00-12:00 occurrence on a change day still ends at
#   12:00 local (so it lasts 2 or 4 hours of elapsed time, not 3). This departs on purpose from RFC 5545
#   §3.8.5.3 (which keeps the exact duration): people mean "until 12:00". Where a change makes that end
#   fall at or before the start (a start in the spring-forward gap whose end lies just after the gap), the
#   occurrence lasts the elapsed `end - start` instead.
# - **Gap and fold.** A local time that does not exist (spring forward) or repeats (fall back) is read as
#   RFC 5545 §3.3.5 and §3.8.5.3 say, which is zoneinfo's fold=0 and what `parse_until` does: a missing
#   02:30 takes the offset from before the gap (it happens at 03:30 local, the elapsed hour after 01:30);
#   a repeated 02:30 is the first one (summer time).
# - **Bounds.** An open-ended rule is honoured for its first MAX_OCCURRENCES occurrences within
#   HORIZON of its start; every query stops there. dateutil's own loop only ends at year 9999 when a
#   rule stops matching (a rule that never matches again would loop for ~8,000 years), so the rule is
#   evaluated in a frame moved by whole 400-year Gregorian cycles, which repeat the calendar exactly (same
#   weekdays, same leap years), to end just after the horizon: even such a rule stops within
#   HORIZON + 400 years of iteration (about 0.4 s at worst, paid only when no further occurrence exists).
# - **DTSTART.** `start` gives the time of day and the first date from which the rule applies; as in
#   dateutil, it is an occurrence only when it matches the rule (RFC 5545 leaves the other case undefined).
# - Times are kept to the second (RFC 5545 has no fractions; dateutil drops them from DTSTART).
# - **Resuming.** A `Mark` names a known occurrence (its index, its number in the rule before any is dropped,
#   its local start). Evaluation resumes there instead of at the series' first occurrence, so a query
#   costs the same at any age: dateutil's rule restarts at the rule period (day, WKST week, month, year)
#   holding the mark, which is one of the periods the original iteration visits (same INTERVAL phase,
#   same BYSETPOS set, same BY* defaults since those stay the original DTSTART's), and COUNT,
#   MAX_OCCURRENCES and the overlap trimming carry on from the mark's numbers. A query uses the series' mark
#   only where the answer cannot depend on occurrences before it; otherwise it iterates from the start.

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from itertools import chain, islice, pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from shared.platform.errors import INVALID_RECURRENCE, INVALID_TIME, INVALID_TIME_ZONE, ServiceError
from shared.platform.timezones import resolve_zone
from shared.presence.rules import check_hold_length, parse_until

# At most this many occurrences of one series are ever evaluated (a daily rule: 27 years).
MAX_OCCURRENCES = 10_000
# Occurrences starting later than this after the series' start are not evaluated (100 Gregorian years).
HORIZON = timedelta(days=36_524)
# Overlaps are refused when they happen among this many first occurrences. A later one (daylight saving,
# or a calendar pattern rarer than this prefix) is trimmed to the next start: occurrences never overlap.
OVERLAP_CHECK = 500
# A schedule's start may lie at most this far ahead (a later one is most likely a mistyped year, and would
# hold a row and its user's schedule count for years before doing anything).
FURTHEST_START = timedelta(days=2 * 366)

Step = Literal["start", "end"]
LastDone = tuple[int, Step]
Status = Literal["scheduled", "active", "completed"]

# RFC 5545 §3.3.10: the rule parts of a RECUR value (dateutil's BYEASTER and the like are not accepted).
_RULE_PARTS = frozenset(
    {
        "FREQ",
        "UNTIL",
        "COUNT",
        "INTERVAL",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "WKST",
    }
)
_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
_TOO_FINE = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_UNTIL = re.compile(r"(?P<date>\d{8})(?:T(?P<time>\d{6})(?P<utc>Z)?)?")
_GREGORIAN_CYCLE_YEARS = 400  # the proleptic Gregorian calendar repeats exactly every 400 years
_LAST_YEAR = 9999  # datetime.MAXYEAR: where dateutil stops iterating


@dataclass(frozen=True)
class Mark:
    """A known occurrence of a series, where evaluation may resume: occurrence `index` is the rule's
    `raw`-th local start (0-based, counting those daylight saving drops), at wall-clock time `wall`."""

    index: int
    raw: int
    wall: datetime  # naive, in the series' zone


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC; after start, and never after the next occurrence's start
    index: int  # 0-based number in the series
    mark: Mark | None = field(default=None, compare=False, repr=False)  # where to resume at it


@dataclass(frozen=True)
class Limits:
    """What a new schedule may ask, from settings: each occurrence lasts at most `max_hold_days`
    (MAX_HOLD_DAYS, as any hold), and a recurrence starts occurrences at least `min_gap` apart
    (SCHEDULE_MIN_GAP_MINUTES), at most `max_per_day` in a day (SCHEDULE_MAX_PER_DAY)."""

    max_hold_days: int = 7
    min_gap: timedelta = timedelta(minutes=15)
    max_per_day: int = 24


@dataclass(frozen=True)
class Series:
    """A schedule's validated timing, built by `parse_series`: a one-off (`rule` None) or a recurrence."""

    start: datetime  # as given, aware UTC, to the second
    end: datetime  # as given, aware UTC, to the second; after start
    zone: ZoneInfo | None  # timeZone, when given
    rule: str | None = None  # the RRULE parts dateutil evaluates, without COUNT and UNTIL
    count: int | None = None  # COUNT: how many occurrences the rule yields
    until: datetime | None = None  # UNTIL as an instant (UTC); the last occurrence starts no later
    local_start: datetime | None = None  # DTSTART: the start's naive wall-clock time in `zone`
    local_duration: timedelta = timedelta(0)  # each occurrence's wall-clock length: local end - local start
    mark: Mark | None = field(default=None, compare=False)  # a known occurrence to resume from

    @property
    def fingerprint(self) -> str:
        """Names the timing (not the mark): a stored mark is used only with the series it was taken from."""
        zone = self.zone.key if self.zone is not None else ""
        timing = f"1|{self.start}|{self.end}|{zone}|{self.rule}|{self.count}|{self.until}|{self.local_start}"
        return hashlib.sha256(timing.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Transition:
    """The next thing to do for a series. A skip covers every occurrence that passed entirely while
    nothing was done (`skipped`, up to and including `occurrence`); the caller records it as ended."""

    kind: Literal["start", "end", "skip"]
    occurrence: Occurrence
    skipped: range = range(0)

    @property
    def done(self) -> LastDone:
        """What to record as `last_done` once this transition has been carried out."""
        return (self.occurrence.index, "start" if self.kind == "start" else "end")


def _bad_rule(message: str) -> ServiceError:
    return INVALID_RECURRENCE(message, field="recurrence")


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a naive local time; fold=0 reads a missing or repeated time as RFC 5545 §3.3.5."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _instant(value: str, time_zone: str | None, field: str) -> datetime:
    parsed = parse_until(value, time_zone, field=field).replace(microsecond=0)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00 in a zone west of UTC
        raise INVALID_TIME("This time is out of range.", field=field) from None


def _wall(value: str, instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time in `zone` a start or end names: as written when it has no offset (so a daily
    02:00 first falling in a spring-forward gap stays 02:00 on the days that have one), else its instant's."""
    written = datetime.fromisoformat(value).replace(microsecond=0)
    if written.tzinfo is None:
        return written
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class _Rule:
    parts: str  # what dateutil evaluates: everything but COUNT and UNTIL
    count: int | None
    until: tuple[str, str | None, bool] | None  # UNTIL as (date, time, in UTC)


def _split_rule(recurrence: str) -> _Rule:
    """The RRULE's parts, after refusing what the service does not honour; values are dateutil's to judge."""
    lines = [line.strip() for line in recurrence.strip().splitlines() if line.strip()]
    if not lines:
        raise _bad_rule("The recurrence is empty: give an RRULE such as FREQ=WEEKLY;BYDAY=MO,WE,FR.")
    names = [line.partition(":")[0].partition(";")[0].upper() for line in lines if ":" in line]
    if len(lines) > 1 or any(name != "RRULE" for name in names):
        others = sorted({name for name in names if name != "RRULE"})
        raise _bad_rule(
            "Give one RRULE and nothing else"
            + (f" ({', '.join(others)} not accepted)" if others else "")
            + ": start sets DTSTART, and RDATE/EXDATE are not supported."
        )
    body = lines[0].partition(":")[2] if ":" in lines[0] else lines[0]
    parts: dict[str, str] = {}
    for part in filter(None, (part.strip() for part in body.upper().split(";"))):  # "…;COUNT=3;" is fine
        key, equals, value = part.partition("=")
        if not equals or not value:
            raise _bad_rule(f"'{part[:40]}' is not a rule part (KEY=VALUE).")
        if key not in _RULE_PARTS:
            raise _bad_rule(f"{key[:40]} is not an RFC 5545 rule part.")
        if key in parts:
            raise _bad_rule(f"{key} is given twice.")
        parts[key] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise _bad_rule("FREQ is required, e.g. FREQ=WEEKLY.")
    if freq in _TOO_FINE:
        raise _bad_rule(
            f"FREQ={freq} is finer than the service honours: use DAILY, WEEKLY, MONTHLY or YEARLY."
        )
    if freq not in _FREQUENCIES:
        raise _bad_rule(f"FREQ={freq[:20]} is not a frequency: use DAILY, WEEKLY, MONTHLY or YEARLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _bad_rule("Give COUNT or UNTIL, not both (RFC 5545).")
    # INTERVAL=0 would make dateutil yield the same day forever.
    interval = parts.get("INTERVAL", "1")
    if not (interval.isascii() and interval.isdigit() and int(interval) >= 1):
        raise _bad_rule("INTERVAL must be a positive whole number.")
    count = parts.pop("COUNT", None)
    if count is not None and not (count.isascii() and count.isdigit()):
        raise _bad_rule("COUNT must be a whole number.")
    until = parts.pop("UNTIL", None)
    until_match = _UNTIL.fullmatch(until) if until is not None else None
    if until is not None and until_match is None:
        raise _bad_rule("UNTIL must look like 20271231, 20271231T170000 (local) or 20271231T160000Z.")
    return _Rule(
        parts=";".join(f"{key}={value}" for key, value in parts.items()),
        count=int(count) if count is not None else None,
        until=(until_match["date"], until_match["time"], bool(until_match["utc"])) if until_match else None,
    )


def _until_instant(until: tuple[str, str | None, bool], zone: ZoneInfo) -> datetime:
    """UNTIL as an instant: in UTC with Z, else local; a bare date includes that whole local day."""
    day, clock, in_utc = until
    try:
        date = datetime.strptime(day, "%Y%m%d")
        wall = (
            datetime.combine(date, datetime.strptime(clock, "%H%M%S").time())
            if clock
            else datetime.combine(date, time(23, 59, 59))
        )
        return wall.replace(tzinfo=UTC) if in_utc else _to_utc(wall, zone)
    except (ValueError, OverflowError):
        raise _bad_rule(f"UNTIL={day}{'T' + clock if clock else ''} is not a valid date and time.") from None


@lru_cache(maxsize=256)
def _framed_rule(parts: str, local_start: datetime, last_wall: datetime) -> tuple[rrule, int]:
    """dateutil's rule in a frame moved forward by whole 400-year cycles, so that its own end of calendar
    (year 9999) bounds even a rule that stops matching; and the number of years it was moved."""
    cycles = max(0, (_LAST_YEAR - 1 - last_wall.year) // _GREGORIAN_CYCLE_YEARS)
    shift = cycles * _GREGORIAN_CYCLE_YEARS
    framed = rrulestr(parts, dtstart=local_start.replace(year=local_start.year + shift))
    assert isinstance(framed, rrule)  # one RRULE line, no DTSTART/RDATE/EXDATE: never an rruleset
    return framed.replace(until=last_wall.replace(year=last_wall.year + shift)), shift


def _period_start(framed: rrule, wall: datetime) -> datetime:
    """The start of the rule period (per FREQ) holding `wall`: where dateutil may restart at it."""
    freq = framed._freq  # dateutil keeps the parsed rule private
    if freq == YEARLY:
        return datetime(wall.year, 1, 1)
    if freq == MONTHLY:
        return datetime(wall.year, wall.month, 1)
    day = datetime(wall.year, wall.month, wall.day)
    if freq == WEEKLY:
        return day - timedelta(days=(wall.weekday() - framed._wkst) % 7)
    assert freq == DAILY
    return day


def _local_starts(series: Series, since: Mark | None = None) -> Iterator[datetime]:
    """The rule's occurrences as naive local times, up to the horizon (and loosely up to UNTIL); from
    `since.wall` on when given (the caller checks that it comes first)."""
    assert series.rule is not None
    assert series.local_start is not None
    assert series.zone is not None
    try:
        last_wall = series.local_start + HORIZON
    except OverflowError:
        last_wall = datetime(_LAST_YEAR, 12, 31, 23, 59, 59)
    if series.until is not None:
        # A day's slack covers any UTC offset; the exact cut is made on instants in _windows.
        with suppress(OverflowError):
            until_wall = series.until.astimezone(series.zone).replace(tzinfo=None) + timedelta(days=1)
            last_wall = min(last_wall, until_wall)
    framed, shift = _framed_rule(series.rule, series.local_start, last_wall)
    from_wall = None
    if since is not None:
        from_wall = since.wall.replace(year=since.wall.year + shift)
        period = _period_start(framed, from_wall)
        if period > framed._dtstart:
            # The same rule (BY* defaults, INTERVAL, WKST, UNTIL as parsed) entered at a later period of
            # its own iteration; DTSTART's own period stays with the original (a first WEEKLY period is cut
            # at DTSTART, and BYSETPOS counts within it).
            framed = copy.copy(framed)
            framed._dtstart = period
    starts = iter(framed)
    while True:
        try:
            wall = next(starts)
        except StopIteration:
            return
        except (ValueError, OverflowError):  # dateutil stepped past year 9999: the end of the frame
            return
        if from_wall is not None and wall < from_wall:
            continue
        yield wall.replace(year=wall.year - shift)  # exact: a 400-year shift keeps 29 February


def _windows(series: Series, since: Mark | None = None) -> Iterator[tuple[datetime, datetime, int, datetime]]:
    """Each occurrence's (start, end) in UTC as the rule gives them, before any overlap is trimmed, with
    its raw number and local start; from the mark's on when given."""
    if series.rule is None:
        yield series.start, series.end, 0, series.start
        return
    assert series.zone is not None
    elapsed = series.end - series.start
    first_raw = 0 if since is None else since.raw
    starts = _local_starts(series, since)
    if series.count is not None:
        starts = islice(starts, max(0, series.count - first_raw))
    for raw, wall in enumerate(starts, first_raw):
        try:
            start = _to_utc(wall, series.zone)
            end = _to_utc(wall + series.local_duration, series.zone)
        except OverflowError:  # the end of the calendar
            return
        if series.until is not None and start > series.until:
            return
        if end <= start:  # a start in the spring-forward gap with its end just after it
            end = start + elapsed
        yield start, end, raw, wall


def occurrences(series: Series, since: Mark | None = None) -> Iterator[Occurrence]:
    """Every occurrence in order: starts strictly increase and none overlaps the next. At most
    MAX_OCCURRENCES, within HORIZON of the start. Past the prefix `parse_series` checked, an occurrence
    that would overlap the next one ends at the next start, and one that daylight saving moves to or
    before the previous start is dropped (02:45 in the gap reads as 03:45, where 03:45 already is).
    With `since` (a mark of this series), from that occurrence on; a mark the rule does not give there
    is ignored."""
    windows = _windows(series, since if series.rule is not None else None)
    pending: tuple[datetime, datetime, int, datetime] | None = None
    index = 0
    if since is not None and series.rule is not None:
        pending = next(windows, None)
        if pending is None or pending[2] != since.raw or pending[3] != since.wall:
            yield from occurrences(series)
            return
        index = since.index
    for window in windows:
        if pending is not None:
            if window[0] <= pending[0]:
                continue
            yield Occurrence(
                pending[0], min(pending[1], window[0]), index, Mark(index, pending[2], pending[3])
            )
            index += 1
            if index >= MAX_OCCURRENCES:
                return
        pending = window
    if pending is not None:
        yield Occurrence(pending[0], pending[1], index, Mark(index, pending[2], pending[3]))


def _from(
    series: Series, first: int, now: datetime | None = None, *, ended: bool = False
) -> Iterator[Occurrence]:
    """The occurrences a query reads from index `first` on: from the series' mark when that gives the same
    answer, else from the start. The mark serves when it is at or before `first`, or, for a query that
    passes over whatever ended by `now`, when those before it have ended: its occurrence started by `now`
    (each ends by the next start), or with `ended` (a query that reports the last one passed) ended."""
    mark = series.mark
    if mark is not None and series.rule is not None:
        resumed = occurrences(series, mark)
        at = next(resumed, None)
        resumable = at is not None and at.index == mark.index
        if resumable and (
            mark.index <= first or (now is not None and (at.end if ended else at.start) <= now)
        ):
            return chain([at], resumed)
    return occurrences(series)


def mark_text(series: Series, mark: Mark) -> str:
    """A mark as stored with its schedule, tied to the series' timing."""
    return f"{series.fingerprint}|{mark.index}|{mark.raw}|{mark.wall.isoformat()}"


def with_mark(series: Series, text: str | None) -> Series:
    """The series resuming at a stored mark; as it is when the mark is absent, unreadable or another's."""
    if not text or series.rule is None:
        return series
    try:
        fingerprint, index, raw, wall = text.split("|")
        if fingerprint != series.fingerprint:
            return series
        mark = Mark(int(index), int(raw), datetime.fromisoformat(wall))
    except ValueError:
        return series
    if mark.wall.tzinfo is not None or not 0 <= mark.index <= mark.raw:
        return series
    return replace(series, mark=mark)


def _settled(series: Series, now: datetime) -> tuple[Occurrence | None, Occurrence | None]:
    """The last occurrence that ended by `now` and the first that did not (one running at `now` counts)."""
    passed = None
    for occurrence in _from(series, 0, now, ended=True):
        if occurrence.end > now:
            return passed, occurrence
        passed = occurrence
    return passed, None


def parse_series(
    start: str,
    end: str,
    time_zone: str | None,
    recurrence: str | None,
    now: datetime | None,
    limits: Limits = Limits(),
) -> Series:
    """A schedule's timing from its input, or a 400 naming the field (api.md, Schedules): `start` < `end`,
    each with an offset or none plus `timeZone`; a one-off must not have ended; a `recurrence` needs
    `timeZone`, must be an RRULE the service honours, must have occurrences that do not overlap, and one
    of them must end after `now`; `limits` hold (each occurrence's length, the gap between starts, their
    number a day), and `start` is at most FURTHEST_START ahead. `now` None re-reads input accepted before
    (a stored schedule, which may have ended since): the checks against `now`, the limits and the scan of
    the first occurrences are left out. With `now`, the series comes marked at the last occurrence ended
    by then, for later queries to resume at."""
    if recurrence is not None and not time_zone:
        raise INVALID_TIME_ZONE(
            "A recurrence needs timeZone, so that 09:00 stays 09:00 local.", field="timeZone"
        )
    start_at = _instant(start, time_zone, "start")
    end_at = _instant(end, time_zone, "end")
    if end_at <= start_at:
        raise INVALID_TIME("The end must be after the start.", field="end")
    zone = resolve_zone(time_zone) if time_zone else None
    if now is not None:
        if start_at - now > FURTHEST_START:
            raise INVALID_TIME(
                f"The start must be within {FURTHEST_START.days} days from now.", field="start"
            )
        check_hold_length(end_at - start_at, limits.max_hold_days, "end")
    if recurrence is None:
        if now is not None and end_at <= now:
            raise INVALID_TIME("The end has passed.", field="end")
        return Series(start_at, end_at, zone)

    assert zone is not None
    rule = _split_rule(recurrence)
    local_start = _wall(start, start_at, zone)
    local_end = _wall(end, end_at, zone)
    series = Series(
        start_at,
        end_at,
        zone,
        rule=rule.parts,
        count=rule.count,
        until=_until_instant(rule.until, zone) if rule.until else None,
        local_start=local_start,
        local_duration=local_end - local_start,
    )
    if now is None:
        return series
    # Its wall-clock length too (what each occurrence lasts but on a daylight-saving day): the same rule.
    check_hold_length(series.local_duration, limits.max_hold_days, "end")
    try:
        # The times each selected day gets (dateutil's, kept private): bound first, before any scan.
        _check_times_a_day(rrulestr(rule.parts, dtstart=local_start)._timeset, limits)
        first = list(islice(_windows(series), OVERLAP_CHECK))
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as error:
        raise _bad_rule(f"This is not an RRULE the service can evaluate: {str(error)[:120]}") from None
    if not first:
        raise _bad_rule("This rule has no occurrence (from start on, within 100 years).")
    for (start_1, end_1, *_), (start_2, *_) in pairwise(first):
        if start_2 < end_1:
            raise _bad_rule(
                f"Occurrences overlap: the one from {start_1.astimezone(zone).isoformat()} lasts until "
                f"{end_1.astimezone(zone).isoformat()}, after the next starts at "
                f"{start_2.astimezone(zone).isoformat()}."
            )
    _check_gaps([window[0] for window in first], zone, limits)
    passed, upcoming = _settled(series, now)
    if upcoming is None:
        raise _bad_rule("Every occurrence of this series has ended.")
    return replace(series, mark=passed.mark) if passed is not None else series


def marked_by(series: Series, now: datetime) -> Series:
    """The series with a mark at most at the last occurrence ended by `now`: its own when it has one, else
    that occurrence's (found by iterating, from the first occurrence: once, then stored)."""
    if series.mark is not None or series.rule is None:
        return series
    passed, _ = _settled(series, now)
    return replace(series, mark=passed.mark) if passed is not None else series


def _check_times_a_day(times_a_day: tuple[time, ...], limits: Limits) -> None:
    """At most `max_per_day` starts a day, at least `min_gap` apart, whatever the rule parts. Every
    frequency the service accepts gives each day it selects the same times (BYHOUR x BYMINUTE x BYSECOND,
    DTSTART's where absent; BYSETPOS only removes some), so those times bound both for every day, the gap
    from a day's last to the next day's first included."""
    if len(times_a_day) > limits.max_per_day:
        raise _bad_rule(
            f"This rule starts up to {len(times_a_day)} occurrences a day; at most {limits.max_per_day} are "
            "allowed (SCHEDULE_MAX_PER_DAY)."
        )
    seconds = [t.hour * 3600 + t.minute * 60 + t.second for t in times_a_day]
    gaps = [b - a for a, b in pairwise(seconds)] + [86_400 - seconds[-1] + seconds[0]]
    finest = timedelta(seconds=min(gaps))
    if finest < limits.min_gap:
        raise _bad_rule(
            f"This rule starts occurrences {_span(finest)} apart; they must start at least "
            f"{_span(limits.min_gap)} apart (SCHEDULE_MIN_GAP_MINUTES)."
        )


def _check_gaps(first_starts: list[datetime], zone: ZoneInfo, limits: Limits) -> None:
    """The same gap between the first occurrences as instants: daylight saving can bring two starts closer
    by its shift (01:50 and 03:00 are 10 minutes apart when the clocks go forward at 02:00)."""
    for start_1, start_2 in pairwise(first_starts):
        if start_2 - start_1 < limits.min_gap:
            raise _bad_rule(
                f"Occurrences start at {start_1.astimezone(zone).isoformat()} and "
                f"{start_2.astimezone(zone).isoformat()}, {_span(start_2 - start_1)} apart; they must start "
                f"at least {_span(limits.min_gap)} apart (SCHEDULE_MIN_GAP_MINUTES)."
            )


def _span(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def next_occurrence(series: Series, after: datetime) -> Occurrence | None:
    """The first occurrence whose end is after `after`: one running at `after` counts."""
    return next((occurrence for occurrence in _from(series, 0, after) if occurrence.end > after), None)


def occurrence_at(series: Series, now: datetime) -> Occurrence | None:
    """The occurrence running at `now` (start <= now < end)."""
    upcoming = next_occurrence(series, now)
    return upcoming if upcoming is not None and upcoming.start <= now else None


def occurrence_number(series: Series, index: int) -> Occurrence:
    """Occurrence `index` of the series."""
    if index >= 0:
        for occurrence in _from(series, index):
            if occurrence.index == index:
                return occurrence
            if occurrence.index > index:
                break
    raise ValueError(f"last_done names occurrence {index}, which this series does not have")


def due_transition(series: Series, last_done: LastDone | None, now: datetime) -> Transition | None:
    """What to do next, given what was done last; None when nothing is due. Replayed until None, it
    catches up after downtime: a started occurrence is ended once its end has passed (so `status` never
    stays active past it); one whose end has passed is never started, but skipped (one skip covers all
    such, record it with `Transition.done`); the one running now is started."""
    if last_done is not None and last_done[1] == "start":
        running = occurrence_number(series, last_done[0])
        return Transition("end", running) if running.end <= now else None
    first_pending = 0 if last_done is None else last_done[0] + 1
    passed: Occurrence | None = None  # the last of the pending occurrences that ended unseen
    for occurrence in _from(series, first_pending, now, ended=True):
        if occurrence.index < first_pending:
            continue
        if occurrence.end <= now:
            passed = occurrence
            continue
        if passed is not None:
            break
        return Transition("start", occurrence) if occurrence.start <= now else None
    if passed is not None:
        return Transition("skip", passed, range(first_pending, passed.index + 1))
    return None


def status_at(series: Series, last_done: LastDone | None, now: datetime) -> Status:
    """`active` while an occurrence the service started has not ended; `completed` when no occurrence
    after the last one done ends after `now`; else `scheduled` (a start that is due but not yet carried
    out still reads `scheduled`)."""
    first_pending = 0
    if last_done is not None:
        if last_done[1] == "start" and occurrence_number(series, last_done[0]).end > now:
            return "active"
        first_pending = last_done[0] + 1
    upcoming = next(
        (o for o in _from(series, first_pending, now) if o.index >= first_pending and o.end > now),
        None,
    )
    return "scheduled" if upcoming is not None else "completed"


def next_start_end(series: Series, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The API's `nextStart` and `nextEnd`: the next start after `now` and the next end after `now`
    (a running occurrence's end counts, its start does not)."""
    upcoming = _from(series, 0, now)
    for occurrence in upcoming:
        if occurrence.end <= now:
            continue
        if occurrence.start > now:
            return occurrence.start, occurrence.end
        following = next(upcoming, None)
        return (following.start if following is not None else None), occurrence.end
    return None, None


def next_transition_at(series: Series, last_done: LastDone | None, now: datetime) -> datetime | None:
    """When `due_transition` will next have something to do (`now` if it has already); None: never."""
    if last_done is not None and last_done[1] == "start":
        return max(occurrence_number(series, last_done[0]).end, now)
    first_pending = 0 if last_done is None else last_done[0] + 1
    # From the mark only when those before it ended (the answer is `now` either way: the mark's started).
    for occurrence in _from(series, first_pending, now):
        if occurrence.index >= first_pending:
            return max(occurrence.start, now) if occurrence.end > now else now
    return None
