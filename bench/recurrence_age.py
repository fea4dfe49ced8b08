"""Benchmark: the cost of one evaluation of a recurring schedule (due_transition + status_at +
next_transition_at + next_start_end, what a tick and a view ask) by the series' age: an open-ended
09:00-10:00 series begun 0, 1, 5 and 20 years ago, evaluated as the engine does, from the mark stored with
the schedule (its last occurrence done), and for comparison from the first occurrence (a row written
before marks were stored). Pure CPU, no storage. Not a test: it prints a table, the headline ratio last.

    .venv/bin/python bench/recurrence_age.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # runnable as a plain script

from shared.schedules.recurrence import (  # noqa: E402
    LastDone,
    Series,
    due_transition,
    next_start_end,
    next_transition_at,
    parse_series,
    status_at,
)

AGES = (0, 1, 5, 20)
RULES = {"daily": "FREQ=DAILY", "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday: yesterday's and today's occurrences ended


def evaluation(series: Series, last_done: LastDone, now: datetime) -> None:
    due_transition(series, last_done, now)
    status_at(series, last_done, now)
    next_transition_at(series, last_done, now)
    next_start_end(series, now)


def cost(series: Series, last_done: LastDone, repeat: int) -> float:
    """Median seconds of one evaluation over `repeat` runs (after one warm-up for dateutil's parse cache)."""
    evaluation(series, last_done, NOW)
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        evaluation(series, last_done, NOW)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{'rule':<9} {'age':>4} {'occurrences':>11} {'from mark':>11} {'from first':>11}")
    headline: dict[str, float] = {}
    for name, rule in RULES.items():
        marked_costs: dict[int, float] = {}
        for years in AGES:
            start = datetime(NOW.year - years, NOW.month, NOW.day, 9, 0)
            # As created at `now`, then ticked: the mark is the last occurrence ended, and is what was done.
            series = parse_series(
                start.isoformat(), (start + timedelta(hours=1)).isoformat(), "Europe/Berlin", rule, NOW
            )
            assert series.mark is not None, "every series here has an occurrence ended by now"
            last_done: LastDone = (series.mark.index, "end")
            marked_costs[years] = cost(series, last_done, args.repeat)
            plain = cost(replace(series, mark=None), last_done, max(3, args.repeat // 10))
            print(
                f"{name:<9} {years:>3}y {series.mark.index + 1:>11} "
                f"{marked_costs[years] * 1e3:>9.3f}ms {plain * 1e3:>9.3f}ms"
            )
        for years in AGES[1:]:
            print(f"{name}: {years}y/0 from mark = {marked_costs[years] / marked_costs[0]:.2f}")
        headline[name] = marked_costs[20] / marked_costs[0]
    for name, ratio in headline.items():
        print(f"{name}: cost of one evaluation, 20y/0 = {ratio:.2f} (goal <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
