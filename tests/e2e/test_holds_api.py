"""Holding a presence, a preferred presence and a status message, through the local host, with the app's
and the emulator's clocks moved together; every assertion about Graph is on the emulator's journal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID
from shared.platform.identity import LOOPBACK_APP_ID

ALICE = f"/api/users/{ALICE_ID}"


def durations(entries) -> list[str]:
    return [e.body.get("expirationDuration") for e in entries]


async def presence_of(api, user_id: str) -> tuple[str, str]:
    reply = await api.get(f"/api/users/{user_id}/presence")
    assert reply.status == 200, reply.body
    return reply.body["availability"], reply.body["activity"]


async def test_hold_beyond_four_hours_renews_with_fewest_calls(api, graph, clock):
    reply = await api.put(
        f"{ALICE}/presence/session",
        json={"availability": "Busy", "activity": "InACall", "durationMinutes": 540},
    )
    assert reply.status == 200, reply.body
    assert reply.body["until"] == "2026-11-23T17:00:00Z"
    assert reply.body["graphExpiresAt"] == "2026-11-23T12:00:00Z"
    assert reply.body["renewsUntil"] == "2026-11-23T17:00:00Z"

    for _ in range(2):  # at 3h55 and at 7h50; the ticks in between have nothing to do
        await clock.advance(hours=1)
        await api.run_timer("renew_sessions")
        await clock.advance(hours=2, minutes=55)
        await api.run_timer("renew_sessions")
        assert await presence_of(api, ALICE_ID) == ("Busy", "InACall")
    await clock.advance(hours=1, minutes=10)
    await api.run_timer("renew_sessions")

    sets = await graph.journal(path="/setPresence")
    assert durations(sets) == ["PT4H", "PT4H", "PT1H10M"]
    assert {e.body["sessionId"] for e in sets} == {LOOPBACK_APP_ID}
    # Let go explicitly at the end; Graph may have dropped it a moment before (404 counts as cleared).
    assert [e.status in (200, 404) for e in await graph.journal(path="/clearPresence")] == [True]
    assert await presence_of(api, ALICE_ID) == ("Offline", "Offline")
    assert (await api.get(f"{ALICE}/presence/holds")).body["session"] is None


async def test_available_is_refreshed_before_it_fades(api, graph, clock):
    await api.put(
        f"{ALICE}/presence/session",
        json={"availability": "Available", "activity": "Available", "durationMinutes": 15},
    )
    for _ in range(14):
        await clock.advance(minutes=1)
        await api.run_timer("renew_sessions")
        assert await presence_of(api, ALICE_ID) == ("Available", "Available")
    await clock.advance(minutes=1)
    await api.run_timer("renew_sessions")
    assert len(await graph.journal(path="/setPresence")) == 4  # at 0, 4, 8 and 12 minutes: fade is at 5
    assert await presence_of(api, ALICE_ID) == ("Offline", "Offline")


async def test_a_preferred_presence_for_a_signed_out_user_does_not_show_offline(api, graph, clock):
    reply = await api.put(
        f"{ALICE}/presence/preferred",
        json={"availability": "DoNotDisturb", "activity": "DoNotDisturb", "until": "2026-11-23T10:30:00Z"},
    )
    assert reply.status == 200, reply.body
    assert reply.body["keepSessionAlive"] is True
    assert await presence_of(api, ALICE_ID) == ("DoNotDisturb", "DoNotDisturb")
    wire = [(e.path.rsplit("/", 1)[1], e.body) for e in await graph.journal(method="POST")]
    assert wire == [
        (
            "setPresence",
            {
                "sessionId": LOOPBACK_APP_ID,
                "availability": "Away",
                "activity": "Away",
                "expirationDuration": "PT2H30M",
            },
        ),
        (
            "setUserPreferredPresence",
            {"availability": "DoNotDisturb", "activity": "DoNotDisturb", "expirationDuration": "PT2H30M"},
        ),
    ]
    await clock.advance(hours=2, minutes=30)
    await api.run_timer("renew_sessions")
    ends = [e.path.rsplit("/", 1)[1] for e in await graph.journal(method="POST")][2:]
    assert ends == ["clearUserPreferredPresence", "clearPresence"]


async def test_without_keep_alive_graph_shows_offline_as_it_says(api, graph, clock):
    await api.put(
        f"/api/users/{BOB_ID}/presence/preferred",
        json={"availability": "Busy", "activity": "Busy", "keepSessionAlive": False},
    )
    assert await graph.journal(path="/setPresence") == []
    assert await presence_of(api, BOB_ID) == ("Offline", "Offline")
    await graph.add_session(
        BOB_ID, session_id="teams-desktop", availability="Available", activity="Available"
    )
    assert await presence_of(api, BOB_ID) == ("Busy", "Busy")


async def test_deleting_a_preferred_presence_clears_it_and_its_session(api, graph, clock):
    await api.put(f"{ALICE}/presence/preferred", json={"availability": "Away", "activity": "Away"})
    reply = await api.delete(f"{ALICE}/presence/preferred")
    assert reply.status == 204
    calls = [e.path.rsplit("/", 1)[1] for e in await graph.journal(method="POST")]
    assert calls == ["setPresence", "setUserPreferredPresence", "clearUserPreferredPresence", "clearPresence"]
    assert await presence_of(api, ALICE_ID) == ("Offline", "Offline")


async def test_deleting_a_session_that_does_not_exist_is_204(api, graph, clock):
    reply = await api.delete(f"{ALICE}/presence/session")
    assert reply.status == 204
    assert [e.status for e in await graph.journal(path="/clearPresence")] == [404]


@pytest.mark.parametrize(
    ("until", "zone"),
    [
        ("2026-11-23T17:00:00", "Europe/Berlin"),
        ("2026-11-23T17:00:00", "W. Europe Standard Time"),
        ("2026-11-23T17:00:00+01:00", None),
        ("2026-11-23T11:00:00", "Eastern Standard Time"),
    ],
)
async def test_status_message_reaches_graph_with_the_right_instant_and_no_offset(
    api, graph, clock, until, zone
):
    body = {"message": "In training, back at 5pm", "until": until} | ({"timeZone": zone} if zone else {})
    reply = await api.put(f"{ALICE}/presence/status-message", json=body)
    assert reply.status == 200, reply.body
    assert reply.body["until"] == "2026-11-23T16:00:00Z"

    [call] = await graph.journal(path="/setStatusMessage")
    assert call.body == {
        "statusMessage": {
            "message": {"content": "In training, back at 5pm", "contentType": "text"},
            "expiryDateTime": {"dateTime": "2026-11-23T16:00:00", "timeZone": "UTC"},
        }
    }
    shown = (await api.get(f"{ALICE}/presence")).body
    assert shown["statusMessage"] == "In training, back at 5pm"
    assert shown["statusMessageExpiresAt"] == "2026-11-23T16:00:00Z"  # Graph hides it from apps; we remember


async def test_clearing_a_status_message_sends_empty_content(api, graph, clock):
    await api.put(f"{ALICE}/presence/status-message", json={"message": "Lunch"})
    assert (await api.delete(f"{ALICE}/presence/status-message")).status == 204
    calls = await graph.journal(path="/setStatusMessage")
    assert calls[0].body == {"statusMessage": {"message": {"content": "Lunch", "contentType": "text"}}}
    assert calls[1].body == {"statusMessage": {"message": {"content": "", "contentType": "text"}}}
    assert (await api.get(f"{ALICE}/presence")).body["statusMessage"] is None


async def test_a_message_the_user_replaced_does_not_carry_our_expiry(api, graph, clock):
    await api.put(
        f"{ALICE}/presence/status-message", json={"message": "Ours", "until": "2026-11-23T12:00:00Z"}
    )
    # The user types their own message in Teams (delegated: the emulator journals it too).
    await graph.set_status_message_as_user(ALICE_ID, "Mine")
    shown = (await api.get(f"{ALICE}/presence")).body
    assert (shown["statusMessage"], shown["statusMessageExpiresAt"]) == ("Mine", None)


BAD_INPUTS = [
    ("session", {"availability": "Busy", "activity": "Busy"}, "invalidPresence", "activity"),
    ("session", {"availability": "Happy", "activity": "Available"}, "invalidPresence", "availability"),
    ("session", {"availability": "Offline", "activity": "OffWork"}, "invalidPresence", "availability"),
    ("preferred", {"availability": "Busy", "activity": "InACall"}, "invalidPresence", "activity"),
    (
        "session",
        {
            "availability": "Busy",
            "activity": "InACall",
            "durationMinutes": 30,
            "until": "2026-11-23T12:00:00Z",
        },
        "invalidRequest",
        "until",
    ),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "until": "2026-11-23T12:00:00"},
        "invalidTime",
        "until",
    ),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "until": "2026-11-23T07:00:00Z"},
        "invalidTime",
        "until",
    ),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "until": "2026-12-23T07:00:00Z"},
        "invalidTime",
        "until",
    ),
    ("session", {"availability": "Busy", "activity": "InACall", "until": "tomorrow"}, "invalidTime", "until"),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "durationMinutes": 2},
        "invalidRequest",
        "durationMinutes",
    ),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "durationMinutes": "60"},
        "invalidRequest",
        "durationMinutes",
    ),
    (
        "session",
        {"availability": "Busy", "activity": "InACall", "sessionId": "x"},
        "invalidRequest",
        "sessionId",
    ),
    (
        "session",
        {
            "availability": "Busy",
            "activity": "InACall",
            "until": "2026-11-23T12:00:00",
            "timeZone": "Mars/Base",
        },
        "invalidTimeZone",
        "timeZone",
    ),
    (
        "preferred",
        {"availability": "Away", "activity": "Away", "keepSessionAlive": "yes"},
        "invalidRequest",
        "keepSessionAlive",
    ),
    ("status-message", {"message": ""}, "invalidMessage", "message"),
    ("status-message", {"message": "x" * 281}, "invalidMessage", "message"),
    ("status-message", {"message": "two\nlines"}, "invalidMessage", "message"),
    ("status-message", {"message": "ok", "until": "2026-11-22T12:00:00Z"}, "invalidTime", "until"),
    ("status-message", {"message": "ok", "contentType": "html"}, "invalidRequest", "contentType"),
    ("status-message", {}, "invalidRequest", "message"),
]


@pytest.mark.parametrize(("route", "body", "code", "field"), BAD_INPUTS)
async def test_bad_input_is_a_400_naming_the_field_with_no_graph_call_and_no_write(
    api, graph, clock, rows, route, body, code, field
):
    reply = await api.put(f"/api/users/alice@contoso.test/presence/{route}", json=body)
    assert reply.status == 400, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.body["code"] == code
    assert reply.body["errors"][0]["field"] == field
    assert await graph.journal() == []
    assert await rows("Holds") == []


async def test_a_malformed_user_is_refused_on_every_write(api, graph, clock):
    for method, route, body in [
        ("PUT", "session", {"availability": "Away", "activity": "Away"}),
        ("DELETE", "preferred", None),
        ("DELETE", "status-message", None),
    ]:
        reply = await api.call(method, f"/api/users/not-a-user/presence/{route}", json=body)
        assert (reply.status, reply.body["code"]) == (400, "invalidUser")
    assert await graph.journal() == []


async def test_a_one_off_throttle_is_absorbed_by_the_sdk(api, graph, clock):
    await graph.fault(method="POST", path="*/setPresence", status=429, count=1, retry_after=1)
    reply = await api.put(f"{ALICE}/presence/session", json={"availability": "Away", "activity": "Away"})
    assert reply.status == 200
    assert [e.status for e in await graph.journal(path="/setPresence")] == [429, 200]


async def test_persistent_throttling_is_a_429_and_nothing_is_held(api, graph, clock, rows):
    await graph.fault(method="POST", path="*/setPresence", status=429, count=100, retry_after=1)
    reply = await api.put(f"{ALICE}/presence/session", json={"availability": "Away", "activity": "Away"})
    assert (reply.status, reply.body["code"], reply.headers["Retry-After"]) == (429, "graphThrottled", "1")
    holds = (await api.get(f"{ALICE}/presence/holds")).body
    assert holds["session"] is None
    audit = await rows("Audit")
    assert [(a["Operation"], a["Outcome"]) for a in audit] == [("session.set", "graphThrottled")]


async def test_a_missing_write_permission_is_a_502_naming_it(api, graph, clock):
    await graph.set_permissions(["Presence.Read.All", "User.ReadBasic.All"])
    reply = await api.put(f"{ALICE}/presence/status-message", json={"message": "hi"})
    assert (reply.status, reply.body["code"]) == (502, "graphPermissionMissing")
    assert "Presence.ReadWrite.All" in reply.body["detail"]


async def test_a_failed_renewal_is_visible_on_the_hold_and_retried(api, graph, clock):
    await api.put(
        f"{ALICE}/presence/session",
        json={"availability": "Busy", "activity": "InACall", "durationMinutes": 300},
    )
    await graph.fault(method="POST", path="*/setPresence", status=503, count=100, retry_after=1)
    await clock.advance(hours=3, minutes=55)
    await api.run_timer("renew_sessions")
    holds = (await api.get(f"{ALICE}/presence/holds")).body
    assert (holds["lastError"]["code"], holds["attempts"]) == ("graphUnavailable", 1)

    await graph.clear_faults()
    await clock.advance(minutes=1)
    await api.run_timer("renew_sessions")
    holds = (await api.get(f"{ALICE}/presence/holds")).body
    assert (holds["lastError"], holds["attempts"]) == (None, 0)
    ok = [e for e in await graph.journal(path="/setPresence") if e.status == 200]
    assert durations(ok) == ["PT4H", "PT1H4M"]
    assert holds["session"]["graphExpiresAt"] == "2026-11-23T13:00:00Z"


async def test_overlapping_ticks_call_graph_once(api, graph, clock):
    for user in (ALICE_ID, BOB_ID, CAROL_ID):
        await api.put(
            f"/api/users/{user}/presence/session",
            json={"availability": "DoNotDisturb", "activity": "Presenting", "durationMinutes": 480},
        )
    await clock.advance(hours=3, minutes=55)
    await asyncio.gather(*(api.run_timer("renew_sessions") for _ in range(4)))
    sets = await graph.journal(path="/setPresence")
    assert sorted(e.path.split("/")[3] for e in sets[3:]) == sorted([ALICE_ID, BOB_ID, CAROL_ID])


async def test_every_change_is_audited_with_graphs_request_id(api, graph, clock, rows):
    await api.put(f"{ALICE}/presence/session", json={"availability": "Away", "activity": "Away"})
    await api.put(f"{ALICE}/presence/status-message", json={"message": "Back soon"})
    await api.delete(f"{ALICE}/presence/session")
    audit = await rows("Audit")  # the clock stands still here, so compare without order
    request_ids = [e.request_id for e in await graph.journal(method="POST")]
    assert sorted((a["Operation"], a["Outcome"], a["GraphRequestId"]) for a in audit) == sorted(
        [
            ("session.set", "ok", request_ids[0]),
            ("statusMessage.set", "ok", request_ids[1]),
            ("session.clear", "ok", request_ids[2]),
        ]
    )
    assert {(a["Caller"], a["UserId"]) for a in audit} == {("function-key", ALICE_ID)}
    assert all("Back soon" not in str(a) for a in audit)  # message bodies stay out of the audit


async def test_holds_are_stored_and_indexed_by_when_they_are_due(api, clock, rows):
    await api.put(
        f"{ALICE}/presence/session",
        json={"availability": "Busy", "activity": "InACall", "durationMinutes": 90},
    )
    [hold] = await rows("Holds")
    assert (hold["PartitionKey"], hold["SessionUntil"]) == (
        ALICE_ID,
        datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    )
    assert "ClaimedUntil" not in hold
    due = [r["RowKey"] for r in await rows("Timeline")]
    assert due == [f"20261123T093000Z|hold|{ALICE_ID}"]
    assert timedelta(minutes=90) == hold["SessionUntil"] - hold["SessionUpdatedAt"]


async def test_wrong_content_type_and_oversized_bodies_are_refused_before_graph(api, graph, clock):
    reply = await api.put(
        f"{ALICE}/presence/status-message", data=b'{"message": "hi"}', headers={"content-type": "text/plain"}
    )
    assert (reply.status, reply.body["code"]) == (415, "unsupportedMediaType")
    big = b'{"message": "' + b"x" * (64 * 1024) + b'"}'
    reply = await api.put(
        f"{ALICE}/presence/status-message", data=big, headers={"content-type": "application/json"}
    )
    assert (reply.status, reply.body["code"]) == (413, "bodyTooLarge")
    reply = await api.put(
        f"{ALICE}/presence/session", data=b"[1, 2", headers={"content-type": "application/json"}
    )
    assert (reply.status, reply.body["code"]) == (400, "invalidJson")
    assert await graph.journal() == []
