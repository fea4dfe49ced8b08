"""The schedule row's mapping: the engine's typed state in and out of its X* columns, checked on the
record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.schedules.store import EngineState, ScheduleRecord, record_from_entity, record_to_entity

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def record(**engine: object) -> ScheduleRecord:
    return ScheduleRecord(
        id="0" * 32,
        user="alice@contoso.com",
        user_id="11111111-1111-1111-1111-111111111111",
        start="2030-01-07T09:00:00",
        end="2030-01-07T09:15:00",
        time_zone="Europe/Berlin",
        recurrence="FREQ=DAILY",
        status_message="In standup",
        presence=None,
        preferred_presence=None,
        restore_previous=True,
        status="active",
        created_at=T0,
        created_by="function-key",
        updated_at=T0,
        engine=EngineState(**engine),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "engine",
    [
        {},
        {"claimed_until": T0 + timedelta(minutes=5), "partial_index": 3},
        {"running_index": 0, "resume": "abc|3|3|2030-01-07T09:00:00"},
        {"claimed_until": T0, "running_index": 7, "partial_index": 8, "resume": "x"},
    ],
)
def test_the_engine_state_survives_a_round_trip(engine):
    original = record(**engine)
    assert record_from_entity(record_to_entity(original)) == original


def test_an_idle_state_keeps_only_where_evaluation_resumes():
    state = EngineState(claimed_until=T0, running_index=2, partial_index=3, resume="m")
    assert state.idle() == EngineState(resume="m")
    assert record_to_entity(replace(record(), engine=state.idle())).keys() >= {"XResume"}
    assert (
        not {"XClaimedUntil", "XRunningIndex", "XPartialIndex"}
        & record_to_entity(replace(record(), engine=state.idle())).keys()
    )


def test_rows_written_before_the_typed_state_read_the_same():
    """0.6 rows carry the same columns; an Int64 or text index from another writer still reads as an int,
    and a claim stored in another offset comes back in UTC."""
    entity = record_to_entity(record())
    entity |= {
        "XClaimedUntil": datetime(2030, 1, 7, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        "XRunningIndex": "4",
        "XResume": "m",
    }
    state = record_from_entity(entity).engine
    assert state == EngineState(claimed_until=T0, running_index=4, resume="m")
    assert state.claimed_until is not None
    assert state.claimed_until.tzinfo == UTC


@pytest.mark.parametrize(
    "engine",
    [
        {"running_index": -1},
        {"partial_index": True},
        {"partial_index": 1.5},
        {"claimed_until": datetime(2030, 1, 7, 9, 0)},  # naive: which zone would it be in?
    ],
)
def test_a_state_that_cannot_be_is_refused_on_the_record(engine):
    with pytest.raises(ValueError, match=r"index|aware"):
        EngineState(**engine)
