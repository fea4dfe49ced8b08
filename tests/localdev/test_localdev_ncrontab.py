"""NCRONTAB as the Functions host reads it: six or five fields, %APP_SETTING%, UTC, TimeSpan refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from localdev.ncrontab import ScheduleError, parse_schedule

T0 = datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)  # a Thursday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("*/15 * * * * *", [at(2026, 1, 1, 0, 0, 15), at(2026, 1, 1, 0, 0, 30), at(2026, 1, 1, 0, 0, 45)]),
        ("0 */5 * * * *", [at(2026, 1, 1, 0, 5), at(2026, 1, 1, 0, 10), at(2026, 1, 1, 0, 15)]),
        ("*/5 * * * *", [at(2026, 1, 1, 0, 5), at(2026, 1, 1, 0, 10), at(2026, 1, 1, 0, 15)]),  # five fields
        ("30 9 * * *", [at(2026, 1, 1, 9, 30), at(2026, 1, 2, 9, 30), at(2026, 1, 3, 9, 30)]),
        ("0 30 9 * * MON-FRI", [at(2026, 1, 1, 9, 30), at(2026, 1, 2, 9, 30), at(2026, 1, 5, 9, 30)]),
        ("0 0 12 * * 0", [at(2026, 1, 4, 12), at(2026, 1, 11, 12), at(2026, 1, 18, 12)]),  # 0 is Sunday
        ("0 0 3 1 */6 *", [at(2026, 1, 1, 3), at(2026, 7, 1, 3), at(2027, 1, 1, 3)]),
        # day and day-of-week both restricted: both must match (NCrontab), Friday the 13th only
        ("0 0 0 13 * FRI", [at(2026, 2, 13), at(2026, 3, 13), at(2026, 11, 13)]),
    ],
)
def test_next_occurrences(schedule: str, expected: list[datetime]) -> None:
    assert parse_schedule(schedule).occurrences(T0, 3) == expected


def test_next_is_strictly_after_and_answers_in_utc() -> None:
    every_minute = parse_schedule("0 * * * * *")
    assert every_minute.next_after(at(2026, 1, 1, 0, 1)) == at(2026, 1, 1, 0, 2)
    berlin_morning = datetime(2026, 1, 1, 9, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert every_minute.next_after(berlin_morning) == at(2026, 1, 1, 8, 1)
    with pytest.raises(ValueError, match="offset"):
        every_minute.next_after(datetime(2026, 1, 1))


def test_app_setting_is_resolved() -> None:
    schedule = parse_schedule("%SCHEDULE_TICK%", {"SCHEDULE_TICK": "0 */1 * * * *"})
    assert (schedule.expression, schedule.source) == ("0 */1 * * * *", "%SCHEDULE_TICK%")
    assert schedule.next_after(T0) == at(2026, 1, 1, 0, 1)
    with pytest.raises(ScheduleError, match="SCHEDULE_TICK, which is not set"):
        parse_schedule("%SCHEDULE_TICK%", {})


def test_timespan_is_refused_with_the_ncrontab_to_write_instead() -> None:
    with pytest.raises(ScheduleError, match=r"TimeSpan.*'0 \*/5 \* \* \* \*'"):
        parse_schedule("00:05:00")
    with pytest.raises(ScheduleError, match="TimeSpan"):
        parse_schedule("%TICK%", {"TICK": "1.00:00:00"})


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * * 2026", "has 7 fields"),
        ("@daily", "has 1 fields"),
        ("0 0 H * * *", "'H' is not NCRONTAB"),
        ("0 0 0 L * *", "'L' is not NCRONTAB"),
        ("0 0 0 ? * MON#2", "is not NCRONTAB"),
        ("0 0 25 * * *", "not a valid NCRONTAB"),
        ("60 * * * * *", "not a valid NCRONTAB"),
    ],
)
def test_invalid_schedules_are_refused(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(schedule)
