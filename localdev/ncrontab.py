"""NCRONTAB timer schedules as the Functions host reads them, evaluated with croniter (the one place that
knows croniter's field order), always in UTC.

`{second} {minute} {hour} {day} {month} {day-of-week}`; five fields mean second 0. `%NAME%` is the app
setting NAME. Day and day-of-week must both match when both are restricted (NCrontab's rule, unlike
Vixie cron's "either"). Azure's TimeSpan form (`00:05:00`, App Service plans only) is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import CroniterError, croniter

_APP_SETTING = re.compile(r"^%([^%]+)%$")
_TIMESPAN = re.compile(r"^(\d+\.)?\d{1,2}:\d{2}(:\d{2})?$")
# NCRONTAB knows numbers, ranges, steps, lists, '*' and three-letter month/day names; croniter's
# extensions (H, L, #, ?, @daily) are not NCRONTAB, so a schedule that uses them would not run in Azure.
_VALUE = r"(\d+|[A-Za-z]{3})"
_ITEM = rf"(\*|{_VALUE}(-{_VALUE})?)(/\d+)?"
_FIELD = re.compile(rf"^{_ITEM}(,{_ITEM})*$")


class ScheduleError(ValueError):
    """A timer schedule the Functions host would refuse at start-up."""


@dataclass(frozen=True)
class Ncrontab:
    """A parsed schedule: `expression` as written (after %NAME% resolution), `six_fields` as evaluated."""

    expression: str
    six_fields: str
    source: str

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (an aware datetime), in UTC."""
        if moment.tzinfo is None:
            raise ValueError("moment must carry an offset")
        itr = croniter(self.six_fields, moment.astimezone(UTC), second_at_beginning=True, day_or=False)
        return itr.get_next(datetime).astimezone(UTC)

    def occurrences(self, after: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        moment = after
        for _ in range(count):
            moment = self.next_after(moment)
            out.append(moment)
        return out


def resolve_app_setting(schedule: str, environ: Mapping[str, str] | None = None) -> str:
    """`%NAME%` → the value of app setting NAME (an environment variable), as Azure binds it."""
    env = os.environ if environ is None else environ
    match = _APP_SETTING.match(schedule.strip())
    if match is None:
        return schedule
    name = match.group(1)
    value = env.get(name)
    if value is None or not value.strip():
        raise ScheduleError(f"timer schedule {schedule} names app setting {name}, which is not set")
    return value


def parse_schedule(schedule: str, environ: Mapping[str, str] | None = None) -> Ncrontab:
    expression = resolve_app_setting(schedule, environ).strip()
    where = f"{expression!r}" + (f" (from {schedule.strip()})" if expression != schedule.strip() else "")
    if _TIMESPAN.match(expression):
        raise ScheduleError(
            f"timer schedule {where} is a TimeSpan, which Azure only runs on App Service plans and the local "
            "host does not run: write it as NCRONTAB, e.g. '0 */5 * * * *' for every five minutes"
        )
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ScheduleError(
            f"timer schedule {where} has {len(expression.split())} fields; NCRONTAB has six "
            "({second} {minute} {hour} {day} {month} {day-of-week}) or five (no seconds)"
        )
    for field in fields:
        if not _FIELD.match(field):
            raise ScheduleError(f"timer schedule {where}: field {field!r} is not NCRONTAB")
    six = " ".join(fields)
    try:
        if not croniter.is_valid(six, second_at_beginning=True):
            raise ScheduleError(f"timer schedule {where} is not a valid NCRONTAB expression")
        croniter(six, datetime(2000, 1, 1, tzinfo=UTC), second_at_beginning=True, day_or=False).get_next(
            datetime
        )
    except (CroniterError, ValueError, KeyError) as exc:
        if isinstance(exc, ScheduleError):
            raise
        raise ScheduleError(f"timer schedule {where} is not a valid NCRONTAB expression: {exc}") from exc
    return Ncrontab(expression=expression, six_fields=six, source=schedule)
