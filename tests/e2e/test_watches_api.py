"""Presence watches through the local host, as a flow (or Power Automate's webhook trigger) uses them:
subscribe, be told of each change once and signed, not of the service's own unless asked, survive a
failing receiver, be disabled after the limit, unsubscribe by the Location URL. Presence is changed in
the emulator as Teams clients would (sessions) and through the API; the receiver runs on loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID, SUPPORT_GROUP_ID
from tests.receiver import Receiver

ALICE_UPN = "alice@contoso.test"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def subscribe(api, receiver: Receiver, **fields: Any):
    body = {"users": [ALICE_UPN, BOB_ID], "callbackUrl": receiver.url} | fields
    reply = await api.post("/api/watches", json=body)
    assert reply.status == 201, reply.body
    return reply


async def poll(api, clock, **delta: float) -> None:
    await clock.advance(**delta)
    await api.run_timer("poll_watches")


async def test_a_flow_subscribes_hears_each_change_once_and_unsubscribes_by_location(
    api, graph, clock, receiver
):
    created = await subscribe(api, receiver)
    location = created.headers["Location"]
    assert location == f"{api.base}/api/watches/{created.body['id']}"
    assert created.body["secret"]
    assert created.body["users"] == sorted([ALICE_UPN, BOB_ID])
    assert (created.body["memberCount"], created.body["status"]) == (2, "active")
    shown = await api.call("GET", location.removeprefix(api.base))
    assert shown.status == 200
    assert shown.body["secret"] is None  # shown once, at creation

    await poll(api, clock, minutes=1)  # the baseline
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await graph.add_session(BOB_ID, "teams-mobile", "Away", "Away")
    await poll(api, clock, minutes=1)
    await poll(api, clock, minutes=1)
    await graph.remove_session(ALICE_ID, "teams-desktop")
    await poll(api, clock, minutes=1)

    assert all(r.signed_with(created.body["secret"]) for r in receiver.received)
    told = [
        (n["user"], n["previous"]["availability"], n["current"]["availability"]) for n in receiver.delivered
    ]
    assert sorted(told[:2]) == [(ALICE_UPN, "Offline", "Busy"), (BOB_ID, "Offline", "Away")]
    assert told[2] == (ALICE_UPN, "Busy", "Offline")
    assert sorted((n["userId"], n["current"]["activity"]) for n in receiver.delivered) == sorted(
        [(ALICE_ID, "InAMeeting"), (BOB_ID, "Away"), (ALICE_ID, "Offline")]
    )
    assert len({r.delivery_id for r in receiver.received}) == 3

    gone = await api.call("DELETE", location.removeprefix(api.base))
    assert gone.status == 204
    assert (await api.call("GET", location.removeprefix(api.base))).status == 404
    await graph.add_session(ALICE_ID, "teams-desktop", "DoNotDisturb", "Presenting")
    await poll(api, clock, minutes=1)
    assert len(receiver.received) == 3


async def test_a_receiver_verifies_each_notification_with_the_standard_webhooks_library_and_no_replay(
    api, graph, receiver
):
    """The receiver checks each POST with the specification's Python library, against the real clock (so
    the service's runs on it too here: no travel). A captured notification is no good later: with a fresh
    timestamp its signature fails, with its own it is too old."""
    created = await subscribe(api, receiver, users=[ALICE_UPN])
    assert created.body["secret"].startswith("whsec_")
    receiver.secret = created.body["secret"]
    await api.run_timer("poll_watches")  # the baseline
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await api.run_timer("poll_watches")
    [first] = receiver.received
    assert (first.answered, first.refused) == (200, None)
    assert first.delivery_id == first.json["deliveryId"]
    assert first.headers["x-presence-delivery"] == first.delivery_id  # the deprecated pair, still sent
    assert first.signed_with(created.body["secret"])

    replayed = {name: first.headers[name] for name in ("content-type", "webhook-id", "webhook-signature")}
    replayed["webhook-timestamp"] = str(int(time.time()) + 60)  # as if sent again a minute later
    async with (
        aiohttp.ClientSession() as session,
        session.post(receiver.url, data=first.body, headers=replayed) as reply,
    ):
        assert reply.status == 401
    assert receiver.received[-1].refused == "No matching signature found"

    try:  # a replay with its own timestamp, 10 minutes on: the service signs 10 minutes behind the receiver
        assert (await api.put("/admin/clock", json={"advanceSeconds": -600})).status == 200
        await graph.remove_session(ALICE_ID, "teams-desktop")
        await api.run_timer("poll_watches")
    finally:
        await api.put("/admin/clock", json={"reset": True})
    late = receiver.received[-1]
    assert (late.answered, late.refused) == (401, "Message timestamp too old")
    assert late.signed_with(created.body["secret"])  # signed right, but as of 10 minutes ago
    shown = await api.get(f"/api/watches/{created.body['id']}")
    assert shown.body["lastError"]["message"] == "The receiver answered 401."
    assert [n["current"]["availability"] for n in receiver.delivered] == ["Busy"]


async def test_the_service_s_own_changes_are_marked_and_left_out_unless_asked_for(
    api, graph, clock, receiver
):
    plain = (await subscribe(api, receiver)).body
    own = (await subscribe(api, receiver, includeOwnChanges=True)).body
    await poll(api, clock, minutes=1)
    # A schedule holds Alice Busy from the next minute; Bob is held Away by a direct call.
    start, end = clock.now + timedelta(minutes=1), clock.now + timedelta(minutes=61)
    presence = {"availability": "Busy", "activity": "InACall"}
    schedule = await api.post(
        "/api/schedules",
        json={"user": ALICE_ID, "start": start.isoformat(), "end": end.isoformat(), "presence": presence},
    )
    assert schedule.status == 201, schedule.body
    await clock.advance(minutes=1)
    await api.run_timer("apply_schedules")
    away = {"availability": "Away", "activity": "Away"}
    assert (await api.put(f"/api/users/{BOB_ID}/presence/session", json=away)).status == 200
    await poll(api, clock, seconds=30)

    assert {n["watchId"] for n in receiver.delivered} == {own["id"]}
    by_user = {n["userId"]: n for n in receiver.delivered}
    assert by_user[ALICE_ID]["causedBy"] == "service"
    assert by_user[ALICE_ID]["scheduleId"] == schedule.body["id"]
    assert (by_user[BOB_ID]["causedBy"], by_user[BOB_ID]["scheduleId"]) == ("service", None)

    await clock.advance(minutes=5)
    await graph.add_session(CAROL_ID, "teams-desktop", "Busy", "InAMeeting")  # not watched
    await graph.add_session(BOB_ID, "teams-desktop", "DoNotDisturb", "Presenting")  # Bob himself
    await poll(api, clock, minutes=1)
    dnd = [n for n in receiver.delivered if n["current"]["availability"] == "DoNotDisturb"]
    assert sorted(n["watchId"] for n in dnd) == sorted([plain["id"], own["id"]])
    assert {n["causedBy"] for n in dnd} == {"other"}


async def test_a_failing_receiver_is_retried_then_the_watch_is_disabled_after_a_day(
    api, graph, clock, receiver
):
    created = (await subscribe(api, receiver)).body
    await poll(api, clock, minutes=1)
    receiver.answer(500)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await poll(api, clock, minutes=1)
    failing = (await api.get(f"/api/watches/{created['id']}")).body
    assert failing["lastError"]["code"] == "callbackFailed"
    assert "500" in failing["lastError"]["message"]
    assert failing["failingSince"]
    assert failing["nextAttemptAt"]
    await poll(api, clock, minutes=1)  # retried: delivered
    assert [r.answered for r in receiver.received] == [500, 200]
    assert (await api.get(f"/api/watches/{created['id']}")).body["lastError"] is None

    receiver.always = 503
    await graph.remove_session(ALICE_ID, "teams-desktop")
    for _ in range(26):
        await poll(api, clock, hours=1)
    disabled = (await api.get(f"/api/watches/{created['id']}")).body
    assert disabled["status"] == "disabled"
    assert disabled["disabledAt"]
    assert disabled["nextAttemptAt"] is None
    listed = (await api.get("/api/watches")).body["value"]
    assert [(w["id"], w["status"]) for w in listed] == [(created["id"], "disabled")]
    trail = (await api.get("/api/audit")).body["value"]
    assert "watch.disable" in [e["operation"] for e in trail]


BAD = [
    ({"users": [ALICE_ID], "group": "5e770000-0000-4000-8000-00000000c001"}, "invalidWatch", "users"),
    ({}, "invalidWatch", "users"),
    ({"users": []}, "invalidRequest", "users"),
    ({"users": [ALICE_ID, "not a user"]}, "invalidUser", "users[1]"),
    ({"users": [ALICE_ID] * 10_001}, "invalidRequest", "users"),
    ({"group": "support-team"}, "invalidGroup", "group"),
    ({"users": [ALICE_ID], "callbackUrl": "http://hooks.example.com/x"}, "invalidCallbackUrl", "callbackUrl"),
    ({"users": [ALICE_ID], "callbackUrl": "https://10.0.0.4/x"}, "invalidCallbackUrl", "callbackUrl"),
    ({"users": [ALICE_ID], "callbackUrl": "https://169.254.169.254/x"}, "invalidCallbackUrl", "callbackUrl"),
    (
        {"users": [ALICE_ID], "callbackUrl": "https://me:pw@hooks.example.com/"},
        "invalidCallbackUrl",
        "callbackUrl",
    ),
    ({"users": [ALICE_ID], "callbackUrl": "ftp://hooks.example.com/"}, "invalidCallbackUrl", "callbackUrl"),
    (
        {"users": [ALICE_ID], "filter": {"availability": ["Sleeping"]}},
        "invalidRequest",
        "filter.availability[0]",
    ),
    ({"users": [ALICE_ID], "includeOwnChanges": "yes"}, "invalidRequest", "includeOwnChanges"),
    ({"users": [ALICE_ID], "colour": "red"}, "invalidRequest", "colour"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD, ids=[f"{c}:{f}" for _, c, f in BAD])
async def test_a_bad_watch_is_a_400_naming_the_field_with_no_graph_call_and_no_row(
    api, graph, rows, receiver, body, code, field
):
    await graph.clear_journal()
    reply = await api.post("/api/watches", json={"callbackUrl": receiver.url} | body)
    assert reply.status == 400, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.body["code"] == code
    assert field in [e["field"] for e in reply.body["errors"]]
    assert await graph.journal() == []
    assert await rows("Watches") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://168.63.129.16/machine?comp=goalstate",  # Azure's platform address (the wireserver)
        "https://[::ffff:168.63.129.16]/",  # the same, IPv4-mapped
        "https://[64:ff9b::a83f:8110]/",  # the same, through NAT64
    ],
)
async def test_a_callback_to_azure_s_platform_address_is_a_clear_400(api, graph, url):
    await graph.clear_journal()
    reply = await api.post("/api/watches", json={"users": [ALICE_ID], "callbackUrl": url})
    assert reply.status == 400, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.body["code"] == "invalidCallbackUrl"
    [error] = reply.body["errors"]
    assert error["field"] == "callbackUrl"
    assert "Azure platform address" in error["message"]
    assert await graph.journal() == []
    assert (await api.get("/api/watches")).body["value"] == []


async def test_an_unknown_user_or_watch_is_a_404(api, graph, rows, receiver):
    reply = await api.post(
        "/api/watches", json={"users": [ALICE_ID, "nobody@contoso.test"], "callbackUrl": receiver.url}
    )
    assert (reply.status, reply.body["code"]) == (404, "userNotFound")
    assert [e["field"] for e in reply.body["errors"]] == ["users[1]"]
    assert await rows("Watches") == []
    for watch_id in ("0" * 32, "x", "'or''='"):
        for method in ("GET", "DELETE"):
            missing = await api.call(method, f"/api/watches/{watch_id}")
            assert (missing.status, missing.body["code"]) == (404, "watchNotFound")


async def test_a_group_watch_tells_of_its_members_by_upn(api, graph, clock, receiver):
    created = await api.post("/api/watches", json={"group": SUPPORT_GROUP_ID, "callbackUrl": receiver.url})
    assert created.status == 201, created.body
    assert (created.body["memberCount"], created.body["users"]) == (3, None)
    await poll(api, clock, minutes=1)
    await graph.add_session(CAROL_ID, "teams-mobile", "Busy", "InACall")
    await graph.add_session(DAVE_ID, "teams-mobile", "Busy", "InACall")  # not in the group
    await poll(api, clock, minutes=1)
    assert [(n["user"], n["current"]["activity"]) for n in receiver.delivered] == [
        ("carol@contoso.test", "InACall")
    ]
    reads = await graph.journal(path="/transitiveMembers")
    assert len(reads) == 1  # read when the watch was made; again after WATCH_GROUP_REFRESH_MINUTES


async def test_the_callback_url_s_query_is_never_shown_back(api, receiver):
    """A Power Automate trigger URL carries its credential in the query (sig=...)."""
    url = f"{receiver.url}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sig=s3cr3t"
    created = await api.post("/api/watches", json={"users": [ALICE_ID], "callbackUrl": url})
    assert created.status == 201, created.body
    shown = [created.body, (await api.get(f"/api/watches/{created.body['id']}")).body]
    shown += (await api.get("/api/watches")).body["value"]
    assert {w["callbackUrl"] for w in shown} == {f"{receiver.url}?…"}


@pytest.mark.parametrize(("query", "field"), [("after=zzz", "after"), ("top=0", "top"), ("top=²", "top")])
async def test_a_bad_list_query_is_a_400_naming_the_parameter(api, query, field):
    reply = await api.get(f"/api/watches?{query}")
    assert reply.status == 400, reply.body
    assert [e["field"] for e in reply.body["errors"]] == [field]


async def test_patch_turns_a_watch_back_on_and_refuses_anything_else(api, receiver, rows):
    created = (await subscribe(api, receiver)).body
    path = f"/api/watches/{created['id']}"
    same = await api.call("PATCH", path, json={"status": "active"})
    assert (same.status, same.body["status"]) == (200, "active")
    for body in ({"status": "disabled"}, {}, {"status": "active", "callbackUrl": receiver.url}):
        reply = await api.call("PATCH", path, json=body)
        assert reply.status == 400, reply.body
        assert reply.content_type == "application/problem+json"
