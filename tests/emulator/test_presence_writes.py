"""The presence actions refuse what Graph refuses: pairs, durations, sessionId, undeclared parameters."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from localdev.graph import ALICE_ID, LOOPBACK_APP_ID
from tests.emulator.conftest import T0

PRESENCE = f"/users/{ALICE_ID}/presence"


def session_body(availability="Available", activity="Available", **extra):
    return {"sessionId": LOOPBACK_APP_ID, "availability": availability, "activity": activity, **extra}


async def error_of(graph, response):
    body = await graph.json(response)
    return response.status, body["error"]["code"], body["error"]["message"]


async def shown(graph, user_id=ALICE_ID):
    body = await graph.json(await graph.get(f"/users/{user_id}/presence"))
    return body["availability"], body["activity"]


# --- settable pairs ---


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Available", "Available"),
        ("Busy", "InACall"),
        ("Busy", "InAConferenceCall"),
        ("Away", "Away"),
        ("DoNotDisturb", "Presenting"),
    ],
)
async def test_setpresence_accepts_each_settable_pair(graph, availability, activity):
    response = await graph.post(f"{PRESENCE}/setPresence", session_body(availability, activity))
    assert response.status == 200
    assert await response.read() == b""
    assert await shown(graph) == (availability, activity)


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Available", "AvailableInactive"),
        ("Busy", "Busy"),
        ("Busy", "InAMeeting"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Away", "BeRightBack"),
        ("Offline", "OffWork"),
        ("Available", "OutOfOffice"),
        ("available", "available"),
    ],
)
async def test_setpresence_refuses_pairs_graph_does_not_allow(graph, availability, activity):
    response = await graph.post(f"{PRESENCE}/setPresence", session_body(availability, activity))
    assert (await error_of(graph, response))[:2] == (400, "BadRequest")
    assert await shown(graph) == ("Offline", "Offline")


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Available", "Available"),
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Away", "Away"),
        ("Offline", "OffWork"),
    ],
)
async def test_preferred_presence_accepts_each_settable_pair(graph, control, availability, activity):
    await control.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    body = {"availability": availability, "activity": activity}
    assert (await graph.post(f"{PRESENCE}/setUserPreferredPresence", body)).status == 200
    assert await shown(graph) == (availability, activity)


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Busy", "InACall"),
        ("DoNotDisturb", "Presenting"),
        ("Offline", "Offline"),
        ("Available", "AvailableInactive"),
    ],
)
async def test_preferred_presence_refuses_pairs_graph_does_not_allow(graph, availability, activity):
    body = {"availability": availability, "activity": activity}
    response = await graph.post(f"{PRESENCE}/setUserPreferredPresence", body)
    assert (await error_of(graph, response))[:2] == (400, "BadRequest")


# --- expirationDuration ---


@pytest.mark.parametrize(
    ("duration", "lasts"),
    [("PT5M", timedelta(minutes=5)), ("PT4H", timedelta(hours=4)), ("PT240M", timedelta(hours=4))],
)
async def test_expiration_duration_range_is_inclusive(graph, control, duration, lasts):
    response = await graph.post(
        f"{PRESENCE}/setPresence", session_body("Busy", "InACall", expirationDuration=duration)
    )
    assert response.status == 200
    [session] = (await control.user_state(ALICE_ID))["sessions"]
    assert session["expiresAt"] == (T0 + lasts).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("duration", ["PT4M59S", "PT4H1M", "P1D", "-PT5M", "PT0S"])
async def test_expiration_duration_out_of_range_is_refused_with_graphs_message(graph, duration):
    response = await graph.post(f"{PRESENCE}/setPresence", session_body(expirationDuration=duration))
    assert await error_of(graph, response) == (
        400,
        "BadRequest",
        "The provided [ExpirationDuration] is out of range",
    )


@pytest.mark.parametrize(
    "duration", ["300", 300, "5 minutes", "0:05:00", "pt5m", "P1M", {"minutes": 5}, True]
)
async def test_expiration_duration_that_is_not_an_iso8601_string_is_refused(graph, duration):
    response = await graph.post(f"{PRESENCE}/setPresence", session_body(expirationDuration=duration))
    status, code, message = await error_of(graph, response)
    assert (status, code) == (400, "BadRequest")
    assert "Edm.Duration" in message


async def test_setpresence_defaults_to_five_minutes(graph, control):
    await graph.post(f"{PRESENCE}/setPresence", session_body("Busy", "InACall"))
    [session] = (await control.user_state(ALICE_ID))["sessions"]
    assert session["expiresAt"] == "2026-11-23T09:05:00Z"


@pytest.mark.parametrize(
    ("availability", "activity", "expires"),
    [
        ("Busy", "Busy", "2026-11-24T09:00:00Z"),
        ("DoNotDisturb", "DoNotDisturb", "2026-11-24T09:00:00Z"),
        ("Available", "Available", "2026-11-30T09:00:00Z"),
        ("Offline", "OffWork", "2026-11-30T09:00:00Z"),
    ],
)
async def test_preferred_presence_default_expiry_is_a_day_for_busy_and_dnd_else_seven(
    graph, control, availability, activity, expires
):
    await graph.post(
        f"{PRESENCE}/setUserPreferredPresence", {"availability": availability, "activity": activity}
    )
    assert (await control.user_state(ALICE_ID))["preferredPresence"]["expiresAt"] == expires


@pytest.mark.parametrize(
    ("duration", "status"), [("PT4M", 400), ("PT5M", 200), ("P7D", 200), ("P7DT1S", 400)]
)
async def test_preferred_presence_explicit_duration_is_five_minutes_to_seven_days(graph, duration, status):
    body = {"availability": "Busy", "activity": "Busy", "expirationDuration": duration}
    assert (await graph.post(f"{PRESENCE}/setUserPreferredPresence", body)).status == status


# --- sessionId and declared parameters ---


async def test_session_id_must_be_the_callers_application_id(graph):
    other = session_body(sessionId=str(uuid.uuid4()))
    assert (await graph.post(f"{PRESENCE}/setPresence", other)).status == 400
    missing = {"availability": "Available", "activity": "Available"}
    assert (await graph.post(f"{PRESENCE}/setPresence", missing)).status == 400
    upper = session_body(sessionId=LOOPBACK_APP_ID.upper())
    assert (await graph.post(f"{PRESENCE}/setPresence", upper)).status == 200


async def test_session_id_is_undeclared_for_setuserpreferredpresence(graph):
    body = {"sessionId": LOOPBACK_APP_ID, "availability": "Busy", "activity": "Busy"}
    status, _, message = await error_of(graph, await graph.post(f"{PRESENCE}/setUserPreferredPresence", body))
    assert status == 400
    assert "'sessionId'" in message


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("setPresence", session_body(durationMinutes=5)),
        ("setPresence", session_body(SessionId=LOOPBACK_APP_ID)),
        ("clearPresence", {"sessionId": LOOPBACK_APP_ID, "force": True}),
        ("clearUserPreferredPresence", {"availability": "Available"}),
        (
            "setStatusMessage",
            {"statusMessage": {"message": {"content": "x", "contentType": "text"}}, "extra": 1},
        ),
    ],
)
async def test_undeclared_top_level_parameter_is_refused(graph, action, body):
    assert (await graph.post(f"{PRESENCE}/{action}", body)).status == 400


@pytest.mark.parametrize(
    "status_message",
    [
        {"message": {"content": "x", "contentType": "text", "language": "en"}},
        {"message": {"content": "x", "contentType": "text"}, "pinned": True},
        {
            "message": {"content": "x", "contentType": "text"},
            "expiryDateTime": {"dateTime": "2026-11-23T17:00:00", "timeZone": "UTC", "offset": "+00:00"},
        },
    ],
)
async def test_undeclared_nested_property_is_refused(graph, status_message):
    response = await graph.post(f"{PRESENCE}/setStatusMessage", {"statusMessage": status_message})
    status, _, message = await error_of(graph, response)
    assert status == 400
    assert "does not exist on type 'microsoft.graph." in message


async def test_a_string_parameter_given_a_number_is_refused(graph):
    response = await graph.post(f"{PRESENCE}/setPresence", session_body(availability=1))
    assert response.status == 400


# --- clearPresence and re-setting ---


async def test_clearpresence_without_a_session_is_404(graph):
    response = await graph.post(f"{PRESENCE}/clearPresence", {"sessionId": LOOPBACK_APP_ID})
    assert (await error_of(graph, response))[0] == 404


async def test_clearpresence_after_the_session_expired_is_404(graph, control):
    await graph.post(f"{PRESENCE}/setPresence", session_body("Busy", "InACall"))
    await control.advance(minutes=5)
    assert (await graph.post(f"{PRESENCE}/clearPresence", {"sessionId": LOOPBACK_APP_ID})).status == 404


async def test_clearpresence_removes_the_applications_session(graph):
    await graph.post(f"{PRESENCE}/setPresence", session_body("Busy", "InACall"))
    assert (await graph.post(f"{PRESENCE}/clearPresence", {"sessionId": LOOPBACK_APP_ID})).status == 200
    assert await shown(graph) == ("Offline", "Offline")


async def test_clearpresence_needs_the_applications_session_id(graph):
    await graph.post(f"{PRESENCE}/setPresence", session_body("Busy", "InACall"))
    response = await graph.post(f"{PRESENCE}/clearPresence", {"sessionId": str(uuid.uuid4())})
    assert response.status == 400


async def test_setting_the_same_session_again_replaces_it_and_restarts_its_expiry(graph, control):
    await graph.post(f"{PRESENCE}/setPresence", session_body("Busy", "InACall", expirationDuration="PT10M"))
    await control.advance(minutes=8)
    await graph.post(
        f"{PRESENCE}/setPresence", session_body("DoNotDisturb", "Presenting", expirationDuration="PT10M")
    )
    state = await control.user_state(ALICE_ID)
    assert [(s["availability"], s["expiresAt"]) for s in state["sessions"]] == [
        ("DoNotDisturb", "2026-11-23T09:18:00Z")
    ]
    await control.advance(minutes=9)
    assert await shown(graph) == ("DoNotDisturb", "Presenting")


async def test_clear_user_preferred_presence_takes_an_empty_body_or_an_empty_object(graph, control):
    await control.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    await graph.post(f"{PRESENCE}/setUserPreferredPresence", {"availability": "Busy", "activity": "Busy"})
    assert (await graph.post(f"{PRESENCE}/clearUserPreferredPresence")).status == 200
    assert (await graph.post(f"{PRESENCE}/clearUserPreferredPresence", {})).status == 200
    assert await shown(graph) == ("Available", "Available")


async def test_writes_to_an_unknown_user_are_404(graph):
    response = await graph.post(f"/users/{uuid.uuid4()}/presence/setPresence", session_body())
    assert response.status == 404


# --- body encoding ---


async def test_malformed_json_is_400(graph):
    response = await graph.post(
        f"{PRESENCE}/setPresence", data=b'{"sessionId": ', headers={"Content-Type": "application/json"}
    )
    assert (await error_of(graph, response))[:2] == (400, "BadRequest")


async def test_a_body_that_is_not_a_json_object_is_400(graph):
    assert (await graph.post(f"{PRESENCE}/setPresence", [session_body()])).status == 400


async def test_a_non_json_content_type_is_415(graph):
    response = await graph.post(
        f"{PRESENCE}/setPresence",
        data=b"sessionId=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 415
    assert (await graph.json(response))["error"]["code"] == "UnsupportedMediaType"


@pytest.mark.parametrize(
    "path",
    [
        f"/communications/presences/{ALICE_ID}/setPresence",
        f"/users/{ALICE_ID}/presence/microsoft.graph.setPresence",
    ],
)
async def test_the_bound_action_answers_at_every_address_of_the_presence(graph, path):
    assert (await graph.post(path, session_body("Away", "Away"))).status == 200
    assert await shown(graph) == ("Away", "Away")


async def test_odata_query_options_are_refused_on_actions(graph):
    response = await graph.post(f"{PRESENCE}/setPresence?$expand=foo", session_body())
    assert response.status == 400
