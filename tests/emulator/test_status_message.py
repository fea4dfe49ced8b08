"""setStatusMessage: text only, expiry as a local dateTime in a named zone, expiring on the emulator clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from localdev.graph import ALICE_ID
from tests.emulator.conftest import unsigned_jwt

ACTION = f"/users/{ALICE_ID}/presence/setStatusMessage"


def status(content="In the lab", content_type="text", expiry=None):
    body = {"message": {"content": content, "contentType": content_type}}
    if expiry is not None:
        body["expiryDateTime"] = expiry
    return {"statusMessage": body}


async def message_of(graph):
    return (await graph.json(await graph.get(f"/users/{ALICE_ID}/presence")))["statusMessage"]


@pytest.mark.parametrize(
    ("time_zone", "last_minute_shown", "first_minute_gone"),
    [
        # 17:00 local on 23 Nov 2026; the clock starts at 09:00Z.
        ("UTC", "2026-11-23T16:59:00+00:00", "2026-11-23T17:00:00+00:00"),
        ("Europe/Berlin", "2026-11-23T15:59:00+00:00", "2026-11-23T16:00:00+00:00"),
        ("Pacific Standard Time", "2026-11-24T00:59:00+00:00", "2026-11-24T01:00:00+00:00"),
    ],
)
async def test_status_message_expires_at_the_wall_time_of_its_zone(
    graph, control, time_zone, last_minute_shown, first_minute_gone
):
    expiry = {"dateTime": "2026-11-23T17:00:00", "timeZone": time_zone}
    assert (await graph.post(ACTION, status(expiry=expiry))).status == 200
    await control.set_clock(datetime.fromisoformat(last_minute_shown))
    assert (await message_of(graph))["message"]["content"] == "In the lab"
    await control.set_clock(datetime.fromisoformat(first_minute_gone))
    assert await message_of(graph) is None


async def test_status_message_without_expiry_stays(graph, control):
    await graph.post(ACTION, status())
    await control.advance(days=30)
    assert (await message_of(graph))["message"] == {"content": "In the lab", "contentType": "text"}


@pytest.mark.parametrize(
    "date_time", ["2026-11-23T17:00:00Z", "2026-11-23T17:00:00+01:00", "2026-11-23T17:00:00-0800"]
)
async def test_status_message_expiry_with_an_offset_is_refused(graph, date_time):
    response = await graph.post(ACTION, status(expiry={"dateTime": date_time, "timeZone": "UTC"}))
    assert response.status == 400
    assert "offset" in (await graph.json(response))["error"]["message"]


@pytest.mark.parametrize(
    "date_time", ["2026-11-23", "tomorrow", "2026-13-01T00:00:00", "2026-11-23 17:00:00", ""]
)
async def test_status_message_expiry_that_does_not_parse_is_refused(graph, date_time):
    response = await graph.post(ACTION, status(expiry={"dateTime": date_time, "timeZone": "UTC"}))
    assert response.status == 400


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "Pacific Time", "utc+1", ""])
async def test_status_message_in_an_unknown_zone_is_refused(graph, time_zone):
    response = await graph.post(
        ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00", "timeZone": time_zone})
    )
    assert response.status == 400


async def test_status_message_expiry_needs_a_time_zone(graph):
    response = await graph.post(ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00"}))
    assert response.status == 400


@pytest.mark.parametrize(
    "expiry",
    [
        {"dateTime": "2026-11-23T08:59:59", "timeZone": "UTC"},
        # 17:00 in Tokyo is 08:00Z, and the clock is at 09:00Z
        {"dateTime": "2026-11-23T17:00:00", "timeZone": "Tokyo Standard Time"},
    ],
)
async def test_status_message_expiry_in_the_past_is_refused(graph, expiry):
    assert (await graph.post(ACTION, status(expiry=expiry))).status == 400


@pytest.mark.parametrize("content_type", ["html", "Text", "TEXT", None])
async def test_status_message_content_type_must_be_text(graph, content_type):
    response = await graph.post(ACTION, status(content_type=content_type))
    assert response.status == 400
    assert await message_of(graph) is None


async def test_empty_content_clears_the_status_message(graph):
    await graph.post(ACTION, status())
    assert (await graph.post(ACTION, status(content=""))).status == 200
    assert await message_of(graph) is None


async def test_published_date_time_is_read_only(graph):
    body = status()
    body["statusMessage"]["publishedDateTime"] = "2026-11-23T09:00:00Z"
    assert (await graph.post(ACTION, body)).status == 400


async def test_an_app_reading_another_user_does_not_see_expiry_or_published_time(graph):
    await graph.post(ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00", "timeZone": "UTC"}))
    assert await message_of(graph) == {"message": {"content": "In the lab", "contentType": "text"}}
    batch = await graph.post("/communications/getPresencesByUserId", {"ids": [ALICE_ID]})
    [presence] = (await graph.json(batch))["value"]
    assert set(presence["statusMessage"]) == {"message"}


async def test_the_user_themselves_sees_expiry_and_published_time(graph):
    await graph.post(
        ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00", "timeZone": "Pacific Standard Time"})
    )
    graph.token = unsigned_jwt(appid="teams-web", scp="Presence.Read", oid=ALICE_ID)
    assert await message_of(graph) == {
        "message": {"content": "In the lab", "contentType": "text"},
        "expiryDateTime": {"dateTime": "2026-11-23T17:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "publishedDateTime": "2026-11-23T09:00:00.0000000Z",
    }


async def test_a_delegated_token_of_another_user_does_not_see_expiry(graph):
    await graph.post(ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00", "timeZone": "UTC"}))
    graph.token = unsigned_jwt(
        appid="teams-web", scp="Presence.Read.All", oid="b0b00000-0000-4000-8000-000000000002"
    )
    assert set(await message_of(graph)) == {"message"}


async def test_an_app_only_token_with_an_oid_is_still_another_user(graph):
    await graph.post(ACTION, status(expiry={"dateTime": "2026-11-23T17:00:00", "timeZone": "UTC"}))
    graph.token = unsigned_jwt(appid="svc", idtyp="app", oid=ALICE_ID)
    assert set(await message_of(graph)) == {"message"}
