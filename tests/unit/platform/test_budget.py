"""The budget's rules: a slot's cap keeps every 30-second window of Graph's under the budget, even when
requests land up to SKEW away from their slot; lower priorities stop short of a full slot."""

from __future__ import annotations

import bisect
import random

import pytest

from shared.platform.budget import SKEW, SLOTS_PER_WINDOW, WINDOW, Priority, slot_cap, slot_limit


def fullest_window(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    return max((bisect.bisect_left(stamps, t + WINDOW) - i for i, t in enumerate(stamps)), default=0)


def test_the_default_budget_allows_45_a_second():
    assert SLOTS_PER_WINDOW == 33
    assert slot_cap(1500) == 45  # 1,350 in 30 s: 0.90 of Graph's 1,500


@pytest.mark.parametrize("budget", [33, 66, 100, 1500, 9999])
def test_full_slots_landing_anywhere_within_the_skew_never_overfill_a_window(budget):
    rng = random.Random(budget)
    cap = slot_cap(budget)
    for _ in range(20):
        # Every 1-second slot of two minutes spent to the cap; each request reaches Graph up to SKEW
        # seconds before or after its slot (clock difference, latency), bunched at the edges.
        stamps = [
            slot + rng.choice([-SKEW, 1 + SKEW - 1e-9, rng.uniform(-SKEW, 1 + SKEW)])
            for slot in range(120)
            for _ in range(cap)
        ]
        assert fullest_window(stamps) <= budget


def test_a_slot_full_for_reads_still_has_room_for_changes_and_renewals():
    cap = slot_cap(1500)
    keep, change, read = (slot_limit(cap, p) for p in (Priority.KEEP, Priority.CHANGE, Priority.READ))
    assert (keep, change, read) == (45, 40, 31)
    assert slot_limit(1, Priority.READ) == 1  # the smallest budget still serves everyone, in turn
    assert slot_limit(0, Priority.KEEP) == 0
