"""What a user shows, computed on the emulator clock: fade, expiry, precedence, preferred, sequence."""

from __future__ import annotations

import pytest

from localdev.graph import ALICE_ID, LOOPBACK_APP_ID

PRESENCE = f"/users/{ALICE_ID}/presence"


async def set_session(graph, availability, activity, duration="PT1H"):
    body = {
        "sessionId": LOOPBACK_APP_ID,
        "availability": availability,
        "activity": activity,
        "expirationDuration": duration,
    }
    response = await graph.post(f"{PRESENCE}/setPresence", body)
    assert response.status == 200


async def presence(graph):
    return await graph.json(await graph.get(PRESENCE))


async def shown(graph):
    body = await presence(graph)
    return body["availability"], body["activity"]


async def test_an_available_session_fades_to_inactive_at_five_minutes_and_away_at_ten(graph, control):
    await set_session(graph, "Available", "Available")
    seen = []
    for minutes in (4, 1, 4, 1):  # at 4, 5, 9, 10 minutes
        await control.advance(minutes=minutes)
        seen.append(await shown(graph))
    assert seen == [
        ("Available", "Available"),
        ("Available", "AvailableInactive"),
        ("Available", "AvailableInactive"),
        ("Away", "Away"),
    ]


async def test_refreshing_an_available_session_restarts_its_fade(graph, control):
    await set_session(graph, "Available", "Available")
    await control.advance(minutes=4)
    await set_session(graph, "Available", "Available")
    await control.advance(minutes=4)
    assert await shown(graph) == ("Available", "Available")


async def test_a_busy_session_does_not_fade(graph, control):
    await set_session(graph, "Busy", "InACall")
    await control.advance(minutes=59)
    assert await shown(graph) == ("Busy", "InACall")


async def test_a_session_is_gone_at_its_expiration(graph, control):
    await set_session(graph, "DoNotDisturb", "Presenting", duration="PT30M")
    await control.advance(minutes=29, seconds=59)
    assert await shown(graph) == ("DoNotDisturb", "Presenting")
    await control.advance(seconds=1)
    assert await shown(graph) == ("Offline", "Offline")
    assert (await control.user_state(ALICE_ID))["sessions"] == []


@pytest.mark.parametrize(
    ("teams", "app", "expected"),
    [
        (("Busy", "InAMeeting"), ("DoNotDisturb", "Presenting"), ("DoNotDisturb", "Presenting")),
        (("DoNotDisturb", "DoNotDisturb"), ("Busy", "InACall"), ("DoNotDisturb", "DoNotDisturb")),
        (("Available", "Available"), ("Busy", "InACall"), ("Busy", "InACall")),
        (("Away", "Away"), ("Available", "Available"), ("Available", "Available")),
        (("Available", "Available"), ("Away", "Away"), ("Available", "Available")),
    ],
)
async def test_sessions_aggregate_by_precedence(graph, control, teams, app, expected):
    await control.add_session(ALICE_ID, "teams-desktop", *teams)
    await set_session(graph, *app)
    assert await shown(graph) == expected


async def test_a_faded_session_ranks_by_what_it_shows(graph, control):
    await control.add_session(ALICE_ID, "teams-mobile", "BeRightBack", "BeRightBack")
    await set_session(graph, "Available", "Available")
    assert await shown(graph) == ("Available", "Available")
    await control.advance(minutes=10)  # the app session now shows Away, below BeRightBack
    assert await shown(graph) == ("BeRightBack", "BeRightBack")


async def test_preferred_presence_shows_only_while_a_session_is_live(graph, control):
    body = {"availability": "DoNotDisturb", "activity": "DoNotDisturb"}
    assert (await graph.post(f"{PRESENCE}/setUserPreferredPresence", body)).status == 200
    assert await shown(graph) == ("Offline", "Offline")
    await set_session(graph, "Available", "Available", duration="PT5M")
    assert await shown(graph) == ("DoNotDisturb", "DoNotDisturb")
    await control.advance(minutes=5)
    assert await shown(graph) == ("Offline", "Offline")


async def test_preferred_presence_wins_over_every_session(graph, control):
    await control.add_session(ALICE_ID, "teams-desktop", "DoNotDisturb", "Presenting")
    await graph.post(f"{PRESENCE}/setUserPreferredPresence", {"availability": "Away", "activity": "Away"})
    assert await shown(graph) == ("Away", "Away")


async def test_preferred_presence_expires(graph, control):
    await control.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    body = {"availability": "Busy", "activity": "Busy", "expirationDuration": "PT2H"}
    await graph.post(f"{PRESENCE}/setUserPreferredPresence", body)
    await control.advance(hours=2)
    assert await shown(graph) == ("Available", "Available")


async def test_sequence_number_grows_on_every_change(graph, control):
    numbers = [(await presence(graph))["sequenceNumber"]]
    for step in (
        lambda: set_session(graph, "Busy", "InACall"),
        lambda: graph.post(
            f"{PRESENCE}/setUserPreferredPresence", {"availability": "Away", "activity": "Away"}
        ),
        lambda: graph.post(
            f"{PRESENCE}/setStatusMessage",
            {"statusMessage": {"message": {"content": "hi", "contentType": "text"}}},
        ),
        lambda: control.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "Away"}),
        lambda: graph.post(f"{PRESENCE}/clearPresence", {"sessionId": LOOPBACK_APP_ID}),
    ):
        await step()
        numbers.append((await presence(graph))["sequenceNumber"])
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)


async def test_sequence_number_grows_when_a_session_fades(graph, control):
    await set_session(graph, "Available", "Available")
    before = (await presence(graph))["sequenceNumber"]
    await control.advance(minutes=5)
    faded = (await presence(graph))["sequenceNumber"]
    assert faded > before
    assert (await presence(graph))["sequenceNumber"] == faded  # reading is not a change
