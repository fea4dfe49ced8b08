"""apply_schedules through the local host: occurrences start and end on the moved clocks, restore what
they replaced, catch up after downtime, stack, cancel; every assertion about Graph is on the journal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph.demo import ALICE_ID

ALICE = f"/api/users/{ALICE_ID}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def message_shown(api) -> str | None:
    return (await api.get(f"{ALICE}/presence")).body["statusMessage"]


async def messages_sent(graph) -> list[str]:
    """What the service set (the user's own changes go through /me)."""
    sent = await graph.journal(path="/setStatusMessage")
    return [
        e.body["statusMessage"]["message"]["content"] for e in sent if e.status == 200 and "/users/" in e.path
    ]


async def tick_at(api, clock, when: str) -> None:
    await clock.set(at(when))
    await api.run_timer("apply_schedules")
    await api.run_timer("renew_sessions")


def one_off(message: str, start: str, end: str, **more) -> dict:
    return {"user": ALICE_ID, "start": start, "end": end, "statusMessage": message} | more


async def test_a_one_off_shows_its_message_then_restores_the_one_it_replaced(api, graph, clock):
    await graph.set_status_message_as_user(ALICE_ID, "Working from home")
    created = (
        await api.post(
            "/api/schedules", json=one_off("Focus time", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")
        )
    ).body
    await tick_at(api, clock, "2026-11-23T08:59:00")
    assert await messages_sent(graph) == []
    await tick_at(api, clock, "2026-11-23T09:00:00")
    assert await message_shown(api) == "Focus time"
    [start] = [e for e in await graph.journal(path="/setStatusMessage") if "Focus" in str(e.body)]
    assert start.body["statusMessage"]["expiryDateTime"] == {
        "dateTime": "2026-11-23T10:00:00",
        "timeZone": "UTC",
    }
    assert (await api.get(f"/api/schedules/{created['id']}")).body["status"] == "active"

    await tick_at(api, clock, "2026-11-23T10:00:00")
    assert await message_shown(api) == "Working from home"
    assert await messages_sent(graph) == ["Focus time", "Working from home"]
    assert (await api.get(f"/api/schedules/{created['id']}")).body["status"] == "completed"


async def test_a_restored_message_keeps_the_expiry_the_service_gave_it(api, graph, clock):
    await clock.set(at("2026-11-23T08:00:00"))
    until = {"until": "2026-11-23T17:00:00Z"}
    await api.put(f"{ALICE}/presence/status-message", json={"message": "In training"} | until)
    await api.post(
        "/api/schedules", json=one_off("Focus time", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")
    )
    await tick_at(api, clock, "2026-11-23T09:00:00")
    await tick_at(api, clock, "2026-11-23T10:00:00")
    assert await message_shown(api) == "In training"
    sets = [e.body["statusMessage"] for e in await graph.journal(path="/setStatusMessage")]
    assert [m["message"]["content"] for m in sets] == ["In training", "Focus time", "In training"]
    assert sets[2]["expiryDateTime"] == {"dateTime": "2026-11-23T17:00:00", "timeZone": "UTC"}
    assert (await api.get(f"{ALICE}/presence")).body["statusMessageExpiresAt"] == "2026-11-23T17:00:00Z"
    await tick_at(api, clock, "2026-11-23T17:00:00")
    assert await message_shown(api) is None  # Graph's expiry, as before the schedule


async def test_a_message_whose_expiry_the_service_could_not_see_comes_back_without_one(api, graph, clock):
    await graph.set_status_message_as_user(ALICE_ID, "Working from home")
    await api.post(
        "/api/schedules", json=one_off("Focus time", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")
    )
    await tick_at(api, clock, "2026-11-23T09:00:00")
    await tick_at(api, clock, "2026-11-23T10:00:00")
    [*_, restore] = await graph.journal(path="/setStatusMessage")
    assert restore.body["statusMessage"]["message"]["content"] == "Working from home"
    assert restore.body["statusMessage"].get("expiryDateTime") is None


async def test_skip_when_out_of_office_leaves_the_user_alone_for_that_occurrence(api, graph, clock):
    body = one_off(
        "Standup",
        "2026-11-23T09:00:00",
        "2026-11-23T09:15:00",
        timeZone="UTC",
        recurrence="FREQ=DAILY;COUNT=2",
        skipWhenOutOfOffice=True,
    )
    created = (await api.post("/api/schedules", json=body)).body
    assert created["skipWhenOutOfOffice"] is True
    await clock.set(at("2026-11-23T08:00:00"))
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "On leave"})
    await tick_at(api, clock, "2026-11-23T09:00:00")
    assert await messages_sent(graph) == []
    audit = (await api.get(f"/api/audit?user={ALICE_ID}")).body["value"]
    newest = audit[0]  # newest first
    assert (newest["operation"], newest["outcome"]) == ("schedule.skip", "outOfOffice")
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": False, "message": None})
    await tick_at(api, clock, "2026-11-24T09:00:00")  # back: the next occurrence runs
    assert await messages_sent(graph) == ["Standup"]
    await tick_at(api, clock, "2026-11-24T09:15:00")
    assert (await api.get(f"/api/schedules/{created['id']}")).body["status"] == "completed"


async def test_a_message_the_user_changed_meanwhile_is_never_overwritten(api, graph, clock):
    await graph.set_status_message_as_user(ALICE_ID, "Working from home")
    await api.post(
        "/api/schedules", json=one_off("Focus time", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")
    )
    await tick_at(api, clock, "2026-11-23T09:00:00")
    await clock.set(at("2026-11-23T09:30:00"))
    await graph.set_status_message_as_user(ALICE_ID, "Back in the office")
    await tick_at(api, clock, "2026-11-23T10:00:00")
    assert await message_shown(api) == "Back in the office"
    assert await messages_sent(graph) == ["Focus time"]


async def test_a_presence_is_held_for_the_occurrence_and_let_go_at_its_end(api, graph, clock):
    body = {
        "user": ALICE_ID,
        "start": "2026-11-23T09:00:00Z",
        "end": "2026-11-23T15:00:00Z",
        "presence": {"availability": "DoNotDisturb", "activity": "Presenting"},
    }
    await api.post("/api/schedules", json=body)
    await tick_at(api, clock, "2026-11-23T09:00:00")
    assert (await api.get(f"{ALICE}/presence")).body["availability"] == "DoNotDisturb"
    await tick_at(api, clock, "2026-11-23T12:55:00")  # renew_sessions takes it past Graph's 4 hours
    await tick_at(api, clock, "2026-11-23T15:00:00")
    sets = await graph.journal(path="/setPresence")
    assert [e.body["expirationDuration"] for e in sets] == ["PT4H", "PT2H5M"]
    assert len(await graph.journal(path="/clearPresence")) == 1
    assert (await api.get(f"{ALICE}/presence")).body["availability"] == "Offline"


@pytest.mark.parametrize("kind", ["presence", "preferredPresence"])
async def test_the_end_clears_what_it_held_in_its_own_tick(api, graph, clock, kind):
    """ "Do not disturb until 10:00" is gone at 10:00, not at the next renew_sessions tick."""
    body = {
        "user": ALICE_ID,
        "start": "2026-11-23T09:00:00Z",
        "end": "2026-11-23T10:00:00Z",
        kind: {
            "availability": "DoNotDisturb",
            "activity": "Presenting" if kind == "presence" else "DoNotDisturb",
        },
    }
    await api.post("/api/schedules", json=body)
    await tick_at(api, clock, "2026-11-23T09:00:00")
    assert (await api.get(f"{ALICE}/presence")).body["availability"] == "DoNotDisturb"
    await clock.set(at("2026-11-23T10:00:00"))
    await api.run_timer("apply_schedules")  # renew_sessions not run: the end alone clears
    assert len(await graph.journal(path="/clearPresence")) == 1
    if kind == "preferredPresence":
        assert len(await graph.journal(path="/clearUserPreferredPresence")) == 1
    assert (await api.get(f"{ALICE}/presence")).body["availability"] == "Offline"
    await api.run_timer("renew_sessions")  # nothing left for it
    assert len(await graph.journal(path="/clearPresence")) == 1


async def test_after_downtime_a_finished_occurrence_is_skipped_and_a_running_one_started(api, graph, clock):
    body = one_off(
        "Standup",
        "2026-11-23T09:00:00",
        "2026-11-23T09:15:00",
        timeZone="UTC",
        recurrence="FREQ=DAILY;COUNT=3",
    )
    created = (await api.post("/api/schedules", json=body)).body
    # The host was down through the first occurrence and comes back during the second.
    await tick_at(api, clock, "2026-11-24T09:05:00")
    assert await messages_sent(graph) == ["Standup"]
    [sent] = [e for e in await graph.journal(path="/setStatusMessage") if e.path.startswith("/v1.0/users/")]
    assert sent.body["statusMessage"]["expiryDateTime"]["dateTime"] == "2026-11-24T09:15:00"
    # Down again through the end of the second and the whole third: it ends, skips, completes.
    await tick_at(api, clock, "2026-11-26T12:00:00")
    schedule = (await api.get(f"/api/schedules/{created['id']}")).body
    assert (schedule["status"], schedule["nextStart"]) == ("completed", None)
    assert await messages_sent(graph) == ["Standup"]


@pytest.mark.parametrize(
    ("zone", "first_day", "second_day", "first_utc", "second_utc"),
    [
        # Berlin springs forward on 2027-03-28: 09:00 is 08:00Z, then 07:00Z.
        ("Europe/Berlin", "2027-03-22", "2027-03-29", "08:00:00", "07:00:00"),
        # New York springs forward on 2027-03-14: 09:00 is 14:00Z, then 13:00Z.
        ("America/New_York", "2027-03-08", "2027-03-15", "14:00:00", "13:00:00"),
    ],
)
async def test_09_00_stays_09_00_local_across_daylight_saving(
    api, graph, clock, zone, first_day, second_day, first_utc, second_utc
):
    body = one_off(
        "Weekly review",
        f"{first_day}T09:00:00",
        f"{first_day}T10:00:00",
        timeZone=zone,
        recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=2",
    )
    await clock.set(at("2027-03-01T00:00:00"))
    await api.post("/api/schedules", json=body)
    starts = [at(f"{first_day}T{first_utc}"), at(f"{second_day}T{second_utc}")]
    for start in starts:
        await tick_at(api, clock, (start - timedelta(minutes=1)).isoformat()[:19])
        await tick_at(api, clock, start.isoformat()[:19])
        await tick_at(api, clock, (start + timedelta(hours=1)).isoformat()[:19])
    sent = [e for e in await graph.journal(path="/setStatusMessage") if "/users/" in e.path]
    assert [e.at for e in sent] == starts  # on the emulator's clock: each 09:00 local
    expiries = [e.body["statusMessage"]["expiryDateTime"]["dateTime"] for e in sent]
    assert expiries == [(s + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") for s in starts]  # 10:00 local


async def test_the_later_start_wins_and_the_earlier_shows_again_when_it_ends(api, graph, clock):
    await graph.set_status_message_as_user(ALICE_ID, "Hello")
    await api.post("/api/schedules", json=one_off("Workshop", "2026-11-23T09:00:00Z", "2026-11-23T11:00:00Z"))
    await api.post(
        "/api/schedules", json=one_off("Quick call", "2026-11-23T09:30:00Z", "2026-11-23T10:00:00Z")
    )
    shown = []
    for moment in [
        "2026-11-23T09:00:00",
        "2026-11-23T09:30:00",
        "2026-11-23T10:00:00",
        "2026-11-23T11:00:00",
    ]:
        await tick_at(api, clock, moment)
        shown.append(await message_shown(api))
    assert shown == ["Workshop", "Quick call", "Workshop", "Hello"]


async def test_cancelling_a_running_schedule_reverts_it(api, graph, clock):
    await graph.set_status_message_as_user(ALICE_ID, "Hello")
    created = (
        await api.post(
            "/api/schedules", json=one_off("Offsite", "2026-11-23T09:00:00Z", "2026-11-23T17:00:00Z")
        )
    ).body
    await tick_at(api, clock, "2026-11-23T09:00:00")
    patch = await api.call("PATCH", f"/api/schedules/{created['id']}", json={"statusMessage": "x"})
    assert (patch.status, patch.body["code"]) == (409, "scheduleActive")
    assert (await api.delete(f"/api/schedules/{created['id']}")).status == 204
    assert await message_shown(api) == "Hello"  # reverted before DELETE answered
    await tick_at(api, clock, "2026-11-23T09:01:00")
    assert await messages_sent(graph) == ["Offsite", "Hello"]
    assert (await api.get(f"/api/schedules/{created['id']}")).body["status"] == "cancelled"


async def test_overlapping_ticks_apply_a_start_once(api, graph, clock):
    await api.post("/api/schedules", json=one_off("Focus", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z"))
    await clock.set(at("2026-11-23T09:00:00"))
    await asyncio.gather(*(api.run_timer("apply_schedules") for _ in range(4)))
    assert await messages_sent(graph) == ["Focus"]


async def test_a_failing_start_is_recorded_retried_with_back_off_and_failed_after_max_attempts(
    api, graph, clock
):
    await graph.fault(method="POST", path="*/setStatusMessage", status=500, count=100)
    created = (
        await api.post(
            "/api/schedules", json=one_off("Focus", "2026-11-23T09:00:00Z", "2026-11-23T12:00:00Z")
        )
    ).body
    url = f"/api/schedules/{created['id']}"
    await tick_at(api, clock, "2026-11-23T09:00:00")
    schedule = (await api.get(url)).body
    assert (schedule["status"], schedule["attempts"], schedule["lastError"]["code"]) == (
        "scheduled",
        1,
        "graphError",
    )
    await tick_at(api, clock, "2026-11-23T09:00:30")  # backing off: not retried yet
    assert len(await graph.journal(path="/setStatusMessage")) == 1
    for minutes in (1, 3, 7, 15):  # 1, 2, 4, 8 minutes after each failure
        await tick_at(api, clock, f"2026-11-23T09:{minutes:02d}:00")
    schedule = (await api.get(url)).body
    assert (schedule["status"], schedule["attempts"]) == ("failed", 5)
    assert len(await graph.journal(path="/setStatusMessage")) == 5


@pytest.mark.parametrize("reading", ["kept", "shown"])
async def test_skip_when_out_of_office_holds_in_a_call_whichever_way_graph_shows_it(
    api, graph, clock, reading
):
    # Out of office over a call: Graph may keep the call's activity or show OutOfOffice (Readings); the
    # skip reads outOfOfficeSettings, so the occurrence is skipped either way.
    await graph.set_readings(out_of_office_over_held=reading)
    body = one_off("Standup", "2026-11-23T09:00:00", "2026-11-23T09:15:00", timeZone="UTC")
    created = (await api.post("/api/schedules", json=body | {"skipWhenOutOfOffice": True})).body
    await clock.set(at("2026-11-23T08:00:00"))
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InACall")
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "On leave"})
    await tick_at(api, clock, "2026-11-23T09:00:00")
    assert await messages_sent(graph) == []
    [read] = [e for e in await graph.journal(path=f"/users/{ALICE_ID}/presence") if e.method == "GET"]
    assert read.readings == (f"outOfOfficeOverHeld={reading}",)
    newest = (await api.get(f"/api/audit?user={ALICE_ID}")).body["value"][0]
    assert (newest["operation"], newest["outcome"]) == ("schedule.skip", "outOfOffice")
    assert (await api.get(f"/api/schedules/{created['id']}")).body["status"] == "completed"
