"""The due index's keys (`due_keys`): which shard partition an entry lives in and the RowKey a tick reads
by range, so that an entry is never read before its moment and always in the order of its moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.platform.timeline import TIMELINE_SHARDS, due_keys

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
USER = "a11ce000-0000-4000-8000-000000000001"
SCHEDULE = "0f2e4c6a8b1d3f5e7a9c0b2d4e6f8a1c"


def stamp_of(row_key: str) -> datetime:
    return datetime.strptime(row_key.split("|", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_an_entry_is_keyed_by_its_second_its_kind_and_its_ref():
    assert due_keys(T0, "hold", USER) == ("hold0", f"20261123T080000Z|hold|{USER}")
    assert due_keys(T0, "schedule", SCHEDULE) == ("schedule1", f"20261123T080000Z|schedule|{SCHEDULE}")


def test_the_shard_is_the_same_in_every_process_and_for_every_moment():
    """crc32 of the ref, not Python's hash() (salted per process): every worker computes the same keys, so
    one moves or removes an entry another wrote."""
    assert due_keys(T0, "hold", SCHEDULE)[0] == "hold1"
    assert due_keys(T0 + timedelta(days=400), "hold", USER)[0] == due_keys(T0, "hold", USER)[0] == "hold0"


def test_refs_spread_over_every_shard_of_their_kind_only():
    partitions = {due_keys(T0, "schedule", f"{n:032x}")[0] for n in range(200)}
    assert partitions == {f"schedule{shard}" for shard in range(TIMELINE_SHARDS)}


@pytest.mark.parametrize(
    ("due", "second"),
    [
        (T0, "080000"),  # a whole second stays where it is
        (T0 + timedelta(microseconds=1), "080001"),  # anything later rounds up, never down
        (T0 + timedelta(microseconds=999_999), "080001"),
        (T0 + timedelta(seconds=1), "080001"),
        (T0 - timedelta(microseconds=1), "080000"),
        (datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=1))), "080000"),  # in UTC
        (datetime(2026, 11, 23, 0, 30, 0, 1, tzinfo=timezone(timedelta(hours=-7, minutes=-30))), "080001"),
    ],
)
def test_the_row_key_holds_the_utc_second_rounded_up(due, second):
    assert due_keys(due, "hold", USER)[1] == f"20261123T{second}Z|hold|{USER}"


def test_a_ref_is_encoded_as_a_table_key_but_sharded_as_given():
    ref = "a/b#c?d%"
    partition, row = due_keys(T0, "hold", ref)
    assert row == "20261123T080000Z|hold|a%2Fb%23c%3Fd%25"
    assert partition == "hold0"
    assert due_keys(T0, "hold", "a%2Fb%23c%3Fd%25")[0] == "hold1"  # the raw ref decides, not its encoding


MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-9, minutes=-30))]
    ),
)
KINDS = st.sampled_from(["hold", "schedule"])


@given(due=MOMENTS, kind=KINDS)
def test_an_entrys_second_is_its_moment_rounded_up_to_the_second(due, kind):
    second = stamp_of(due_keys(due, kind, USER)[1])
    assert due <= second < due + timedelta(seconds=1)
    assert second.microsecond == 0


@given(first=MOMENTS, second=MOMENTS, kind=KINDS)
def test_row_keys_sort_as_their_moments(first, second, kind):
    """A tick reads the oldest entries first by reading RowKeys in order."""
    earlier, later = sorted((first, second))
    assert due_keys(earlier, kind, USER)[1] <= due_keys(later, kind, USER)[1]


@given(due=MOMENTS, now=MOMENTS, kind=KINDS, ref=st.text(min_size=1, max_size=40))
def test_a_tick_never_reads_an_entry_before_its_moment(due, now, kind, ref):
    """A tick at `now` reads every RowKey up to its own second (Timeline.due: `<stamp of now>|~`): what it
    reads is due, and whatever was due at the start of its second is read."""
    _, row = due_keys(due, kind, ref)
    read = row <= now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "|~"
    if read:
        assert due <= now
    if due <= now.replace(microsecond=0):
        assert read
