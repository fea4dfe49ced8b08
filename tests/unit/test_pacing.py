"""The pacer keeps every 30-second window under Graph's budget, and costs nothing below it (injected
clock: the waits are computed, not slept)."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pacing import WINDOW, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def fullest_window(stamps: list[float]) -> int:
    """The most requests in any half-open window of WINDOW seconds."""
    return max(bisect.bisect_left(stamps, t + WINDOW) - i for i, t in enumerate(stamps))


async def paced(budget: int, gaps: list[float]) -> list[float]:
    """When each request went out: the caller wants to send after each gap (seconds)."""
    time = FakeTime()
    pacer = Pacer(budget, monotonic=time.monotonic, sleep=time.sleep)
    stamps = []
    for gap in gaps:
        time.now += gap
        await pacer.wait()
        stamps.append(time.now)
    return stamps


async def test_a_flood_is_spread_to_the_budget_and_no_further():
    stamps = await paced(1500, [0.0] * 4000)
    assert fullest_window(stamps) <= 1500
    # ... and it is not slower than it must be: 4,000 requests take about (4,000 - 1,500) / 50 s more.
    assert stamps[-1] < (4000 - 50) / ((1500 - 50) / WINDOW) + 1


async def test_below_the_budget_nobody_waits():
    gaps = [0.1] * 500  # 10 per second, a fifth of the budget
    stamps = await paced(1500, gaps)
    assert all(abs(stamp - 0.1 * (i + 1)) < 1e-9 for i, stamp in enumerate(stamps))


@settings(max_examples=60, deadline=None)
@given(
    budget=st.integers(30, 3000),
    gaps=st.lists(st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.5, 3.0, 31.0]), min_size=1, max_size=2500),
)
async def test_any_request_pattern_stays_within_the_budget(budget, gaps):
    assert fullest_window(await paced(budget, gaps)) <= budget
