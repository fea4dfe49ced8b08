"""Schedules through the local host: create (idempotent), read with ETag, list with paging, change with
If-Match, cancel; bad input refused before any lookup or write."""

from __future__ import annotations

import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID

LUNCH = {
    "user": "alice@contoso.test",
    "start": "2026-11-23T12:00:00",
    "end": "2026-11-23T13:00:00",
    "timeZone": "Europe/Berlin",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10",
    "statusMessage": "Lunch, back at 13:00",
}


async def test_create_answers_201_with_location_and_the_next_occurrence(api, graph, clock, rows):
    reply = await api.post("/api/schedules", json=LUNCH)
    assert reply.status == 201, reply.body
    schedule = reply.body
    assert reply.headers["Location"] == f"{api.base}/api/schedules/{schedule['id']}"
    assert (schedule["userId"], schedule["status"], schedule["restorePrevious"]) == (
        ALICE_ID,
        "scheduled",
        True,
    )
    assert (schedule["nextStart"], schedule["nextEnd"]) == ("2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z")
    assert schedule["createdBy"] == "function-key"
    due = [r["RowKey"] for r in await rows("Timeline")]
    assert due == [f"20261123T110000Z|schedule|{schedule['id']}"]
    assert [e.path for e in await graph.journal(method="POST")] == []  # nothing happens in Graph yet


async def test_the_same_idempotency_key_returns_the_same_schedule(api, clock, rows):
    first = await api.post("/api/schedules", json=LUNCH, headers={"Idempotency-Key": "flow-run-42"})
    again = await api.post("/api/schedules", json=LUNCH, headers={"Idempotency-Key": "flow-run-42"})
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert len(await rows("Schedules")) == 1
    other = await api.post(
        "/api/schedules", json=LUNCH | {"statusMessage": "Gym"}, headers={"Idempotency-Key": "flow-run-42"}
    )
    assert (other.status, other.body["code"]) == (409, "idempotencyKeyReused")


async def test_get_carries_an_etag_that_patch_checks(api, clock):
    created = (await api.post("/api/schedules", json=LUNCH)).body
    reply = await api.get(f"/api/schedules/{created['id']}")
    assert reply.status == 200
    etag = reply.headers["ETag"]
    stale = await api.call(
        "PATCH",
        f"/api/schedules/{created['id']}",
        json={"statusMessage": "Late lunch"},
        headers={"If-Match": "W/\"datetime'2000-01-01T00%3A00%3A00Z'\""},
    )
    assert (stale.status, stale.body["code"]) == (412, "preconditionFailed")
    changed = await api.call(
        "PATCH",
        f"/api/schedules/{created['id']}",
        json={"statusMessage": "Late lunch"},
        headers={"If-Match": etag},
    )
    assert changed.status == 200, changed.body
    assert changed.body["statusMessage"] == "Late lunch"
    assert changed.headers["ETag"] != etag
    assert (await api.get(f"/api/schedules/{created['id']}")).body["statusMessage"] == "Late lunch"


async def test_patch_can_remove_the_recurrence_and_is_validated_as_a_whole(api, clock):
    created = (await api.post("/api/schedules", json=LUNCH)).body
    reply = await api.call("PATCH", f"/api/schedules/{created['id']}", json={"recurrence": None})
    assert (reply.status, reply.body["recurrence"]) == (200, None)
    reply = await api.call("PATCH", f"/api/schedules/{created['id']}", json={"statusMessage": None})
    assert (reply.status, reply.body["code"]) == (400, "invalidSchedule")
    reply = await api.call("PATCH", f"/api/schedules/{created['id']}", json={"end": "2026-11-23T11:00:00"})
    assert (reply.status, reply.body["errors"][0]["field"]) == (400, "end")


async def test_list_by_user_and_status_pages_with_next_link(api, clock):
    ids = set()
    for minute in range(5):
        body = LUNCH | {
            "start": f"2026-11-24T12:0{minute}:00",
            "end": "2026-11-24T13:00:00",
            "recurrence": None,
        }
        ids.add((await api.post("/api/schedules", json=body)).body["id"])
    await api.post("/api/schedules", json=LUNCH | {"user": BOB_ID})
    seen: set[str] = set()
    url = "/api/schedules?user=alice@contoso.test&status=scheduled&top=2"
    pages = 0
    while url:
        reply = await api.get(url.removeprefix(api.base))
        assert reply.status == 200, reply.body
        seen |= {s["id"] for s in reply.body["value"]}
        assert len(reply.body["value"]) <= 2
        url = reply.body["nextLink"]
        pages += 1
    assert seen == ids
    assert pages == 3
    everyone = await api.get("/api/schedules?top=200")
    assert len(everyone.body["value"]) == 6


async def test_cancel_is_204_and_leaves_the_schedule_cancelled(api, clock):
    created = (await api.post("/api/schedules", json=LUNCH)).body
    assert (await api.delete(f"/api/schedules/{created['id']}")).status == 204
    reply = await api.get(f"/api/schedules/{created['id']}")
    assert (reply.body["status"], reply.body["nextStart"]) == ("cancelled", None)
    assert (await api.delete(f"/api/schedules/{created['id']}")).status == 204
    patch = await api.call("PATCH", f"/api/schedules/{created['id']}", json={"statusMessage": "x"})
    assert patch.status == 409


async def test_unknown_and_malformed_ids_are_404(api, clock):
    for bad in ["0" * 32, "not-an-id", "..%2F..%2Fetc"]:
        reply = await api.get(f"/api/schedules/{bad}")
        assert (reply.status, reply.body["code"]) == (404, "scheduleNotFound")


EVERY_MINUTE = (
    "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=" + ",".join(map(str, range(60)))
)

BAD_SCHEDULES = [
    ({"statusMessage": None}, "invalidSchedule", "statusMessage"),
    ({"end": "2026-11-23T11:00:00"}, "invalidTime", "end"),
    (
        {"start": "2026-11-20T12:00:00", "end": "2026-11-20T13:00:00", "recurrence": None},
        "invalidTime",
        "end",
    ),
    ({"timeZone": None}, "invalidTimeZone", "timeZone"),
    ({"timeZone": None, "recurrence": None}, "invalidTime", "start"),
    ({"timeZone": "Atlantis/Capital"}, "invalidTimeZone", "timeZone"),
    ({"recurrence": "FREQ=HOURLY;COUNT=3"}, "invalidRecurrence", "recurrence"),
    ({"recurrence": "FREQ=SOMETIMES"}, "invalidRecurrence", "recurrence"),
    # Every minute, or every second, through BYHOUR/BYMINUTE/BYSECOND while FREQ=MINUTELY is refused.
    ({"recurrence": EVERY_MINUTE}, "invalidRecurrence", "recurrence"),
    ({"recurrence": EVERY_MINUTE + ";BYSECOND=0,30"}, "invalidRecurrence", "recurrence"),
    (
        {"recurrence": "FREQ=DAILY;BYHOUR=12;BYMINUTE=0,10", "end": "2026-11-23T12:05:00"},
        "invalidRecurrence",
        "recurrence",
    ),
    # Longer than any hold may last (MAX_HOLD_DAYS), or starting years ahead.
    ({"end": "9999-01-01T00:00:00", "recurrence": None}, "invalidTime", "end"),
    ({"end": "2026-12-01T12:00:01", "recurrence": None}, "invalidTime", "end"),
    ({"start": "2030-01-07T12:00:00", "end": "2030-01-07T13:00:00"}, "invalidTime", "start"),
    ({"presence": {"availability": "Busy", "activity": "Busy"}}, "invalidPresence", "activity"),
    ({"preferredPresence": {"availability": "Busy", "activity": "InACall"}}, "invalidPresence", "activity"),
    ({"statusMessage": "x" * 281}, "invalidMessage", "message"),
    ({"user": "not a user"}, "invalidUser", "user"),
    ({"restorePrevious": "yes"}, "invalidRequest", "restorePrevious"),
    ({"color": "blue"}, "invalidRequest", "color"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_SCHEDULES)
async def test_bad_schedules_are_400_before_any_lookup_or_write(api, graph, clock, rows, change, code, field):
    reply = await api.post("/api/schedules", json=LUNCH | change)
    assert reply.status == 400, reply.body
    assert (reply.body["code"], reply.body["errors"][0]["field"]) == (code, field)
    assert await graph.journal() == []
    assert await rows("Schedules") == []


async def test_a_patch_past_the_limits_is_400_and_changes_nothing(api, graph, clock, rows):
    created = (await api.post("/api/schedules", json=LUNCH)).body
    before = await rows("Schedules")
    for change, code, field in [
        ({"recurrence": EVERY_MINUTE, "end": "2026-11-23T12:01:00"}, "invalidRecurrence", "recurrence"),
        ({"recurrence": None, "end": "9999-01-01T00:00:00"}, "invalidTime", "end"),
    ]:
        reply = await api.call("PATCH", f"/api/schedules/{created['id']}", json=change)
        assert reply.status == 400, reply.body
        assert (reply.body["code"], reply.body["errors"][0]["field"]) == (code, field)
    assert await rows("Schedules") == before
    assert await graph.journal(method="POST") == []
