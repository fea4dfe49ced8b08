"""The one row mapper (shared/platform/rows.py), and the columns each store's records are written in:
rows written by earlier versions must read the same, so the column names are pinned here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.holds.rules import Failure, GraphSession, Hold, MessageHold, PreferredHold, SessionHold
from shared.holds.store import hold_from_entity, hold_to_entity
from shared.platform.rows import Codec, RowMapper, cell, pascal
from shared.schedules.store import EngineState, ScheduleRecord, record_from_entity, record_to_entity
from shared.watches.rules import Filter
from shared.watches.store import WatchRecord, watch_from_entity, watch_to_entity

T = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
ALICE = "11111111-1111-1111-1111-111111111111"


@dataclass(frozen=True)
class Part:
    name: str
    at: datetime | None = None


@dataclass(frozen=True)
class Thing:
    id: str
    count: int
    flag: bool
    part: Part | None = None
    pair: tuple[int, str] | None = None
    note: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    etag: str = ""


THINGS = RowMapper(
    Thing,
    columns={"id": "PartitionKey"},
    tuples={"pair": ("Index", "Kind")},
    codecs={
        "tags": Codec(lambda t: {"Tags": ",".join(sorted(t))}, lambda r: frozenset(r["Tags"].split(",")))
    },
    skip=frozenset({"etag"}),
)


def test_fields_become_pascal_case_columns_parts_and_pairs_flat_behind_their_name():
    thing = Thing("x", 3, True, Part("p", T), (2, "start"), None, frozenset({"b", "a"}), etag="e")
    assert THINGS.to_row(thing) == {
        "PartitionKey": "x",
        "Count": 3,
        "Flag": True,
        "PartName": "p",
        "PartAt": T,
        "PairIndex": 2,
        "PairKind": "start",
        "Tags": "a,b",
    }
    assert THINGS.from_row(THINGS.to_row(thing), etag="e") == thing


def test_a_missing_column_reads_as_the_default_and_stored_types_are_made_plain():
    row = {"PartitionKey": "x", "Count": "4", "Flag": 1, "PartName": "p", "Tags": "a"}
    assert THINGS.from_row(row) == Thing("x", 4, True, Part("p"), tags=frozenset({"a"}))
    later = datetime(2030, 1, 7, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    part = THINGS.from_row(row | {"PartAt": later}).part
    assert part is not None
    assert part.at == T
    assert part.at.tzinfo == UTC


def test_a_single_column_codec_reads_an_empty_cell_as_nothing():
    codec = cell("GroupId")
    assert codec.write("g") == {"GroupId": "g"}
    assert codec.read({"GroupId": ""}) is None
    assert codec.read({}) is None
    assert codec.read({"GroupId": "g"}) == "g"


@pytest.mark.parametrize(
    ("name", "column"), [("user_id", "UserId"), ("x", "X"), ("graph_expires_at", "GraphExpiresAt")]
)
def test_pascal(name, column):
    assert pascal(name) == column


def test_a_hold_s_columns():
    hold = Hold(
        ALICE,
        "alice@contoso.com",
        SessionHold("Busy", "InAMeeting", T, "api", T),
        PreferredHold("Away", "Away", T, True, "api", T, T),
        MessageHold("In standup", T, "0" * 32, T, "Lunch", False, T),
        GraphSession("Busy", "InAMeeting", T, T),
        2,
        Failure("graphError", "Graph failed.", T),
        T,
    )
    row = hold_to_entity(hold)
    assert sorted(row) == sorted(
        ["PartitionKey", "RowKey", "UserId", "User", "Attempts", "ClaimedUntil"]
        + [f"Session{c}" for c in ("Availability", "Activity", "Until", "Owner", "UpdatedAt")]
        + [f"Preferred{c}" for c in ("Availability", "Activity", "Until", "KeepSessionAlive", "Owner")]
        + ["PreferredUpdatedAt", "PreferredGraphExpiresAt"]
        + ["Message", "MessageUntil", "MessageOwner", "MessageUpdatedAt", "MessageReplaced", "MessageInGraph"]
        + ["MessageReplacedUntil", "GraphAvailability", "GraphActivity", "GraphSetAt", "GraphExpiresAt"]
        + ["LastErrorCode", "LastErrorMessage", "LastErrorAt"]
    )
    assert row["RowKey"] == "hold"
    assert hold_from_entity(row) == hold
    bare = Hold(ALICE, "alice@contoso.com")
    assert hold_from_entity(hold_to_entity(bare)) == bare
    # A message row from before MessageInGraph existed was in Graph.
    old = {k: v for k, v in row.items() if k != "MessageInGraph"}
    message = hold_from_entity(old).message
    assert message is not None
    assert message.in_graph


def test_a_schedule_s_columns():
    record = ScheduleRecord(
        id="0" * 32,
        user="alice@contoso.com",
        user_id=ALICE,
        start="2030-01-07T09:00:00",
        end="2030-01-07T09:15:00",
        time_zone="Europe/Berlin",
        recurrence="FREQ=DAILY",
        status_message="In standup",
        presence=("Busy", "InAMeeting"),
        preferred_presence=("Away", "Away"),
        restore_previous=True,
        status="active",
        created_at=T,
        created_by="function-key",
        updated_at=T,
        last_done=(3, "start"),
        attempts=1,
        last_error=Failure("graphError", "Graph failed.", T),
        engine=EngineState(T, 3, 4, "mark"),
        version=2,
        skip_when_out_of_office=True,
    )
    row = record_to_entity(record)
    assert sorted(row) == sorted(
        [
            "PartitionKey",
            "RowKey",
            "User",
            "UserId",
            "Start",
            "End",
            "TimeZone",
            "Recurrence",
            "StatusMessage",
            "PresenceAvailability",
            "PresenceActivity",
            "PreferredAvailability",
            "PreferredActivity",
            "RestorePrevious",
            "SkipWhenOutOfOffice",
            "Status",
            "CreatedAt",
            "CreatedBy",
            "UpdatedAt",
            "LastDoneIndex",
            "LastDoneKind",
            "Attempts",
            "Version",
            "LastErrorCode",
            "LastErrorMessage",
            "LastErrorAt",
            "XClaimedUntil",
            "XRunningIndex",
            "XPartialIndex",
            "XResume",
        ]
    )
    assert (row["PartitionKey"], row["RowKey"]) == ("0" * 32, "schedule")
    assert record_from_entity(row) == record


def test_a_watch_s_columns_and_the_empty_cells_older_versions_wrote():
    watch = WatchRecord(
        id="1" * 32,
        group="2" * 32,
        callback_url="https://flow.example/hook",
        filter=Filter(frozenset({"Busy"}), frozenset()),
        include_own_changes=False,
        secret="s",
        status="active",
        created_at=T,
        created_by="function-key",
        member_count=3,
        last_error=Failure("callbackFailed", "500", T),
        claimed_until=T,
    )
    row = watch_to_entity(watch)
    assert row["Filter"] == '{"availability": ["Busy"], "activity": []}'
    assert row["LastError"] == '{"code": "callbackFailed", "message": "500"}'
    assert (row["PartitionKey"], row["RowKey"], row["GroupId"], row["LastErrorAt"]) == (
        "1" * 32,
        "watch",
        "2" * 32,
        T,
    )
    assert watch_from_entity(row) == watch
    older = row | {"GroupId": "", "LastError": "", "LastErrorAt": None, "ClaimedUntil": None}
    plain = WatchRecord(**{**watch.__dict__, "group": None, "last_error": None, "claimed_until": None})
    assert watch_from_entity(older) == plain
