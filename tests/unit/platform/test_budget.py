"""The budget's rules: a slot's cap keeps every 30-second window of Graph's under the budget, even when
requests land up to SKEW away from their slot; lower priorities stop short of a full slot and of what
renewals reserved, until half the slot is gone."""

from __future__ import annotations

import bisect
import random

import pytest

from shared.platform.budget import (
    OPEN_AT,
    SKEW,
    SLOTS_PER_WINDOW,
    WINDOW,
    Priority,
    slot_cap,
    slot_limit,
    slot_room,
)


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


def test_half_a_slot_on_what_renewals_left_opens_to_the_priority_below():
    cap = slot_cap(1500)
    late = (slot_limit(cap, p, OPEN_AT) for p in (Priority.KEEP, Priority.CHANGE, Priority.READ))
    assert tuple(late) == (45, 45, 40)  # starts may fill the slot; reads still leave changes a tenth
    assert slot_limit(cap, Priority.CHANGE, OPEN_AT - 0.01) == 40


def test_renewals_reservations_are_left_to_them_until_half_the_slot_is_gone():
    cap = slot_cap(1500)
    assert slot_room(cap, Priority.KEEP, taken=0, reserved=20, elapsed=0.0) == 45  # theirs, and the rest
    assert slot_room(cap, Priority.CHANGE, taken=0, reserved=20, elapsed=0.0) == 25
    assert slot_room(cap, Priority.READ, taken=0, reserved=20, elapsed=0.0) == 25
    assert slot_room(cap, Priority.CHANGE, taken=25, reserved=20, elapsed=0.0) == 0
    assert slot_room(cap, Priority.CHANGE, taken=25, reserved=20, elapsed=OPEN_AT) == 20  # unclaimed: open
    assert slot_room(cap, Priority.READ, taken=25, reserved=20, elapsed=OPEN_AT) == 15
    assert slot_room(cap, Priority.KEEP, taken=45, reserved=0, elapsed=0.9) == 0  # never past the cap


@pytest.mark.parametrize("priority", list(Priority))
def test_no_priority_ever_fills_a_slot_past_its_cap(priority):
    cap = slot_cap(1500)
    for taken in range(cap + 1):
        for reserved in range(cap - taken + 1):
            for elapsed in (0.0, 0.3, OPEN_AT, 0.99):
                assert taken + slot_room(cap, priority, taken, reserved, elapsed) <= cap
