"""The control plane: users, simulated sessions, state, clock, permissions, reset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import (
    ALICE_ID,
    BOB_ID,
    CAROL_ID,
    DAVE_ID,
    LOOPBACK_APP_ID,
    EmulatorControl,
    EmulatorControlError,
    create_app,
)
from localdev.graph.app import _is_loopback
from tests.emulator.conftest import T0


async def test_the_demo_directory_has_fixed_well_known_ids(control):
    users = {u["userPrincipalName"]: u["id"] for u in await control.users()}
    assert users == {
        "alice@contoso.test": ALICE_ID,
        "bob@contoso.test": BOB_ID,
        "carol@contoso.test": CAROL_ID,
        "dave@contoso.test": DAVE_ID,
    }


async def test_an_app_without_users_knows_nobody():
    server = TestServer(create_app(users=None))
    await server.start_server()
    try:
        async with EmulatorControl(str(server.make_url(""))) as control:
            assert await control.users() == []
    finally:
        await server.close()


async def test_seeded_users_get_an_id_when_none_is_given_and_are_found_by_upn(graph, control):
    given = str(uuid.uuid4())
    created = await control.seed_users(
        [{"userPrincipalName": "erin@contoso.test"}, {"userPrincipalName": "frank@contoso.test", "id": given}]
    )
    assert uuid.UUID(created[0]["id"])
    assert created[1]["id"] == given
    assert (await graph.json(await graph.get("/users/erin@contoso.test")))["id"] == created[0]["id"]


@pytest.mark.parametrize(
    "user",
    [{"userPrincipalName": "alice@contoso.test"}, {"userPrincipalName": "x@contoso.test", "id": BOB_ID}],
)
async def test_a_user_that_exists_cannot_be_seeded_again(control, user):
    with pytest.raises(EmulatorControlError) as caught:
        await control.seed_users([user])
    assert caught.value.status == 409


async def test_a_seeded_id_must_be_a_guid(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.seed_users([{"userPrincipalName": "x@contoso.test", "id": "x"}])
    assert caught.value.status == 400


async def test_user_state_shows_sessions_with_their_fade_and_expiry(graph, control):
    body = {
        "sessionId": LOOPBACK_APP_ID,
        "availability": "Available",
        "activity": "Available",
        "expirationDuration": "PT1H",
    }
    await graph.post(f"/users/{ALICE_ID}/presence/setPresence", body)
    await control.add_session(ALICE_ID, "teams-desktop", "Away", "Away", expiration=timedelta(hours=2))
    await control.advance(minutes=6)
    state = await control.user_state(ALICE_ID)
    assert state["now"] == "2026-11-23T09:06:00Z"
    assert (state["availability"], state["activity"]) == ("Available", "AvailableInactive")
    assert state["sessions"] == [
        {
            "sessionId": LOOPBACK_APP_ID,
            "kind": "application",
            "availability": "Available",
            "activity": "Available",
            "shown": {"availability": "Available", "activity": "AvailableInactive"},
            "setAt": "2026-11-23T09:00:00Z",
            "expiresAt": "2026-11-23T10:00:00Z",
            "inactiveAt": "2026-11-23T09:05:00Z",
            "awayAt": "2026-11-23T09:10:00Z",
        },
        {
            "sessionId": "teams-desktop",
            "kind": "teams",
            "availability": "Away",
            "activity": "Away",
            "shown": {"availability": "Away", "activity": "Away"},
            "setAt": "2026-11-23T09:00:00Z",
            "expiresAt": "2026-11-23T11:00:00Z",
            "inactiveAt": None,
            "awayAt": None,
        },
    ]


async def test_removing_a_simulated_session_takes_it_away(graph, control):
    await control.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await control.remove_session(ALICE_ID, "teams-desktop")
    assert (await control.user_state(ALICE_ID))["availability"] == "Offline"
    with pytest.raises(EmulatorControlError) as caught:
        await control.remove_session(ALICE_ID, "teams-desktop")
    assert caught.value.status == 404


async def test_a_simulated_session_needs_known_presence_values(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.add_session(ALICE_ID, "teams-desktop", "Sleeping", "Away")
    assert caught.value.status == 400


async def test_out_of_office_and_work_location_show_in_presence(graph, control):
    await control.patch_user(
        ALICE_ID,
        out_of_office={"isOutOfOffice": True, "message": "On leave"},
        work_location={"workLocationType": "remote", "source": "manual"},
    )
    body = await graph.json(await graph.get(f"/users/{ALICE_ID}/presence"))
    assert body["outOfOfficeSettings"] == {"message": "On leave", "isOutOfOffice": True}
    assert body["workLocation"] == {"workLocationType": "remote", "source": "manual", "placeId": None}


@pytest.mark.parametrize(
    ("session", "shown"),
    [
        (None, ["Offline", "OutOfOffice"]),
        (("Available", "Available"), ["Available", "OutOfOffice"]),
        (("Busy", "InACall"), ["Busy", "InACall"]),  # a call says more than the out-of-office
    ],
)
async def test_out_of_office_shows_in_the_activity(graph, control, session, shown):
    if session is not None:
        await control.add_session(ALICE_ID, "teams-desktop", *session)
    await control.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": None})
    body = await graph.json(await graph.get(f"/users/{ALICE_ID}/presence"))
    assert [body["availability"], body["activity"]] == shown
    await control.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": False, "message": None})
    body = await graph.json(await graph.get(f"/users/{ALICE_ID}/presence"))
    assert body["activity"] != "OutOfOffice"


async def test_the_clock_is_real_and_running_by_default():
    server = TestServer(create_app())
    await server.start_server()
    try:
        async with EmulatorControl(str(server.make_url(""))) as control:
            now = await control.now()
            assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
            assert await control.clock_frozen() is False
    finally:
        await server.close()


async def test_the_clock_can_be_set_with_an_offset_and_advanced(control):
    assert await control.now() == T0
    await control.set_clock(datetime.fromisoformat("2026-12-01T10:00:00+01:00"))
    assert await control.now() == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert await control.advance(hours=1, minutes=30) == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


async def test_the_clock_refuses_a_naive_time_and_going_backwards(control, graph):
    response = await graph.client.put("/_emulator/clock", json={"now": "2026-12-01T10:00:00"})
    assert response.status == 400
    response = await graph.client.post("/_emulator/clock/advance", json={"seconds": -1})
    assert response.status == 400


async def test_the_clock_advance_accepts_minutes_and_hours(graph, control):
    response = await graph.client.post("/_emulator/clock/advance", json={"minutes": 2, "hours": 1})
    assert (await response.json())["now"] == "2026-11-23T10:02:00Z"


async def test_permissions_default_to_what_the_service_needs(control):
    assert await control.permissions() == [
        "GroupMember.Read.All",
        "Presence.ReadWrite.All",
        "User.ReadBasic.All",
    ]


async def test_reset_restores_users_journal_faults_latency_clock_and_permissions(graph, control):
    await control.seed_users([{"userPrincipalName": "erin@contoso.test"}])
    await control.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await control.fault("*", status=500, count=3)
    await control.latency(fixed_ms=5)
    await control.set_permissions([])
    await graph.get(f"/users/{ALICE_ID}/presence")
    await control.reset()
    assert len(await control.users()) == 4
    assert await control.journal() == []
    assert await control.faults() == {"rules": [], "random": None}
    assert await control.clock_frozen() is False
    assert await control.permissions() == [
        "GroupMember.Read.All",
        "Presence.ReadWrite.All",
        "User.ReadBasic.All",
    ]
    assert (await control.user_state(ALICE_ID))["sessions"] == []
    response = await graph.client.get("/_emulator/latency")
    assert await response.json() == {"fixedMs": 0}


def test_only_loopback_callers_reach_the_control_plane():
    assert _is_loopback("127.0.0.1")
    assert _is_loopback("::1")
    assert not _is_loopback("10.0.0.5")
    assert not _is_loopback(None)


def test_the_app_id_must_be_a_guid():
    with pytest.raises(ValueError, match="GUID"):
        create_app(app_id="my-app")
