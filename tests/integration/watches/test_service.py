"""The watch poller against Azurite, the emulator and a receiver on loopback: changes found by the bulk
read, delivered once and signed, own changes told apart, a failing receiver backed off and finally given
up on, overlapping and crashed ticks. Every assertion is on what the receiver got, what Graph was asked
(the journal) and what is stored."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID, SUPPORT_GROUP_ID
from shared.api.models import SessionRequest, WatchInput
from shared.app import Services
from shared.platform.errors import ServiceError
from shared.watches.rules import Seen, new_secret
from shared.watches.store import Delivery, WatchStore
from shared.watches.webhooks import WebhookSender
from tests.integration.conftest import T0
from tests.receiver import Receiver

pytestmark = pytest.mark.usefixtures("both_readings")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def travel(services: Services, graph: EmulatorControl, **delta: float) -> None:
    services.clock.advance(timedelta(**delta))
    await graph.set_clock(services.clock.now(), frozen=True)


async def watch(services: Services, receiver: Receiver, **fields: object):
    body = WatchInput.model_validate({"callbackUrl": receiver.url, "users": [ALICE_ID, BOB_ID]} | fields)
    return await services.watches.create("test", body, services.watches.targets(body))


async def test_a_teams_client_change_is_delivered_once_signed_with_the_watch_secret(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()  # the baseline: nothing to tell yet
    assert receiver.received == []

    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    report = await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await services.watcher.tick()  # nothing new: nothing sent again

    assert (report.changes, report.delivered) == (1, 1)
    [got] = receiver.received
    assert (created.secret or "").startswith("whsec_")
    assert got.signed_with(created.secret or "")
    assert not got.signed_with(new_secret())
    assert got.delivery_id == got.json["deliveryId"]
    assert got.json == {
        "watchId": created.id,
        "deliveryId": got.delivery_id,
        "user": ALICE_ID,
        "userId": ALICE_ID,
        "previous": {"availability": "Offline", "activity": "Offline"},
        "current": {"availability": "Busy", "activity": "InAMeeting"},
        "changedAt": "2026-11-23T08:01:00Z",
        "causedBy": "other",
        "scheduleId": None,
    }
    shown = await services.watches.show((await services.watches.get(created.id))[0])
    assert (shown.delivered, shown.status, shown.last_error) == (1, "active", None)


async def test_one_bulk_read_per_tick_serves_every_watch(at_t0, graph, receiver):
    services = at_t0
    await watch(services, receiver)
    await watch(services, receiver, users=[BOB_ID, CAROL_ID])
    await graph.clear_journal()
    await services.watcher.tick()
    reads = await graph.journal(path="/communications/getPresencesByUserId")
    assert len(reads) == 1
    assert sorted(reads[0].body["ids"]) == sorted([ALICE_ID, BOB_ID, CAROL_ID])

    await travel(services, graph, minutes=1)
    await graph.add_session(BOB_ID, "teams-mobile", "Away", "Away")
    await services.watcher.tick()
    assert sorted(n["watchId"] for n in receiver.delivered) != []
    assert len(receiver.delivered) == 2  # Bob is in both watches: each is told once
    assert {n["userId"] for n in receiver.delivered} == {BOB_ID}


async def test_the_service_s_own_changes_are_left_out_unless_asked_for(at_t0, graph, receiver):
    services = at_t0
    plain = await watch(services, receiver)
    everything = await watch(services, receiver, includeOwnChanges=True)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    busy = SessionRequest(availability="Busy", activity="InACall", duration_minutes=60)
    await services.holds.hold_session("test", ALICE_ID, busy)
    await services.watcher.tick()

    [ours] = receiver.delivered
    assert ours["watchId"] == everything.id
    assert (ours["causedBy"], ours["scheduleId"]) == ("service", None)
    assert ours["current"] == {"availability": "Busy", "activity": "InACall"}

    # A change by somebody else, long after the service's write, is nobody's but theirs.
    await travel(services, graph, minutes=10)
    await graph.add_session(ALICE_ID, "teams-desktop", "DoNotDisturb", "Presenting")
    await services.watcher.tick()
    late = [n for n in receiver.delivered if n["current"]["availability"] == "DoNotDisturb"]
    assert sorted(n["watchId"] for n in late) == sorted([plain.id, everything.id])
    assert {n["causedBy"] for n in late} == {"other"}


async def test_a_fade_is_told_whether_or_not_graph_moves_the_sequence_number(
    at_t0, graph, receiver, both_readings
):
    """Graph does not document that a computed change moves sequenceNumber: the change is told either way."""
    services = at_t0
    await watch(services, receiver, includeOwnChanges=True)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    available = SessionRequest(availability="Available", activity="Available", duration_minutes=60)
    await services.holds.hold_session("test", ALICE_ID, available)
    await services.watcher.tick()
    [created] = [w for w, _ in await services.watches.store.all()]
    before = {m.user_id: m.seen for m in await services.watches.store.members(created.id)}[ALICE_ID]
    await graph.clear_journal()
    await travel(services, graph, minutes=6)  # an app's Available session fades after 5 minutes
    await services.watcher.tick()

    faded = [n for n in receiver.delivered if n["previous"]["activity"] == "Available"]
    assert [n["current"] for n in faded] == [{"availability": "Available", "activity": "AvailableInactive"}]
    [read] = await graph.journal(path="/getPresencesByUserId")
    bumped = "true" if both_readings == "default" else "false"
    assert f"sequenceOnComputedChange={bumped}" in read.readings  # the reading really answered the read
    after = {m.user_id: m.seen for m in await services.watches.store.members(created.id)}[ALICE_ID]
    assert before is not None
    assert after is not None
    assert (after.availability, after.activity) == ("Available", "AvailableInactive")  # the stored baseline
    assert (after.sequence_number != before.sequence_number) == (bumped == "true")


async def test_a_filter_lets_through_only_the_presences_it_lists(at_t0, graph, receiver):
    services = at_t0
    await watch(services, receiver, filter={"availability": ["Offline"]})
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.remove_session(ALICE_ID, "teams-desktop")  # back to Offline
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    await services.watcher.tick()
    assert [n["current"]["availability"] for n in receiver.delivered] == ["Offline"]


async def test_a_watch_made_before_0_7_keeps_its_secret_and_its_receiver_verifies_with_the_library(
    at_t0, graph, receiver
):
    """Its secret has no whsec_ prefix: its UTF-8 bytes stay the key, for both signatures."""
    services = at_t0
    created = await watch(services, receiver)
    old_secret = "q8Xw2l0bLr3W6tJv9QpYz1HcKmN4sDfEgAiUoP7yRe0"  # as 0.6 made them (token_urlsafe)
    record, etag = await services.watches.store.get(created.id)
    assert record is not None
    assert etag is not None
    await services.watches.store.replace(dataclasses.replace(record, secret=old_secret), etag)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()

    [got] = receiver.received
    assert got.signed_with(old_secret)  # the library given the secret's bytes as the raw key
    stamp = got.headers["webhook-timestamp"]
    expected = Webhook("whsec_" + base64.b64encode(old_secret.encode()).decode()).sign(
        got.delivery_id or "", got.sent_at, got.body.decode()
    )
    assert got.headers["webhook-signature"] == expected  # ... or its whsec_ form
    assert stamp == str(int((T0 + timedelta(minutes=1)).timestamp()))


async def test_a_filter_on_out_of_office_tells_when_a_user_goes_out_of_office(
    at_t0, graph, receiver, both_readings
):
    services = at_t0
    await watch(services, receiver, filter={"activity": ["OutOfOffice"]})
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InACall")
    await services.watcher.tick()  # the baseline
    await travel(services, graph, minutes=1)
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "On leave"})
    await services.watcher.tick()  # in a call: the call shows (kept), or out of office over it (shown)
    await travel(services, graph, minutes=1)
    await graph.remove_session(ALICE_ID, "teams-desktop")
    await services.watcher.tick()
    reading = "kept" if both_readings == "default" else "shown"
    in_the_call = [e for e in await graph.journal(path="/getPresencesByUserId") if e.status == 200][1]
    assert in_the_call.readings is not None
    assert f"outOfOfficeOverHeld={reading}" in in_the_call.readings
    told = [{"availability": "Busy", "activity": "OutOfOffice"}] if reading == "shown" else []
    assert [n["current"] for n in receiver.delivered] == [
        *told,
        {"availability": "Offline", "activity": "OutOfOffice"},
    ]
    [created] = [w for w, _ in await services.watches.store.all()]
    stored = {m.user_id: m.seen for m in await services.watches.store.members(created.id)}
    assert stored[ALICE_ID] is not None
    assert (stored[ALICE_ID].availability, stored[ALICE_ID].activity) == ("Offline", "OutOfOffice")


async def test_a_failing_receiver_is_retried_with_back_off_and_gets_each_change_once(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.answer(500, 503)
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()  # fails (500): next try in a minute
    record, _ = await services.watches.get(created.id)
    assert (record.failures, record.retry_at) == (1, T0 + timedelta(minutes=2))
    await travel(services, graph, seconds=30)
    await services.watcher.tick()  # not yet due: nothing sent
    assert len(receiver.received) == 1
    await travel(services, graph, seconds=30)
    await services.watcher.tick()  # fails (503): next try in two minutes
    record, _ = await services.watches.get(created.id)
    assert (record.failures, record.retry_at) == (2, T0 + timedelta(minutes=4))
    assert record.last_error is not None
    assert "503" in record.last_error.message

    await travel(services, graph, minutes=1)
    await graph.add_session(BOB_ID, "teams-desktop", "Away", "Away")  # queued behind Alice's
    await travel(services, graph, minutes=1)
    await services.watcher.tick()
    assert [r.answered for r in receiver.received] == [500, 503, 200, 200]
    assert len({r.delivery_id for r in receiver.received[:3]}) == 1  # the same notification each time
    # ... but each attempt signed as of when it was made, by the service's clock
    assert [r.sent_at for r in receiver.received[:3]] == [T0 + timedelta(minutes=m) for m in (1, 2, 4)]
    assert all(r.signed_with(created.secret or "") for r in receiver.received)
    assert [n["userId"] for n in receiver.delivered] == [ALICE_ID, BOB_ID]  # in order
    record, _ = await services.watches.get(created.id)
    assert (record.failures, record.failing_since, record.retry_at, record.delivered) == (0, None, None, 2)


async def test_a_watch_whose_receiver_fails_for_a_day_is_disabled_and_says_so(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.always = 500
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    for _ in range(30):  # hourly ticks (the back-off tops out at an hour)
        await services.watcher.tick()
        await travel(services, graph, hours=1)
    record, _ = await services.watches.get(created.id)
    assert record.status == "disabled"
    assert record.disabled_at is not None
    assert record.disabled_at - T0 >= timedelta(hours=24)
    attempts = len(receiver.received)
    assert 20 < attempts < 40  # backed off, not every tick of a day

    receiver.always = None
    await graph.add_session(BOB_ID, "teams-desktop", "Away", "Away")
    await services.watcher.tick()
    assert len(receiver.received) == attempts  # a disabled watch is not polled nor delivered
    shown = await services.watches.show(record)
    assert shown.status == "disabled"
    assert shown.last_error is not None
    audit = await services.audit.read(None, None, None, 50, None)
    assert "watch.disable" in [e.operation for e in audit[0]]


async def test_a_receiver_answering_410_gone_disables_the_watch_at_once(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.answer(410)
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()
    record, _ = await services.watches.get(created.id)
    assert (record.status, record.last_error.code if record.last_error else None) == (
        "disabled",
        "callbackGone",
    )


async def test_overlapping_ticks_deliver_each_change_once(at_t0, graph, receiver):
    services = at_t0
    await watch(services, receiver, users=[ALICE_ID, BOB_ID, CAROL_ID])
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    for user in (ALICE_ID, BOB_ID, CAROL_ID):
        await graph.add_session(user, "teams-desktop", "Busy", "InAMeeting")
    await asyncio.gather(*(services.watcher.tick() for _ in range(4)))
    await services.watcher.tick()  # whatever a claimed watch left is sent now
    assert sorted(n["userId"] for n in receiver.delivered) == sorted([ALICE_ID, BOB_ID, CAROL_ID])


async def test_a_tick_that_dies_before_recording_a_change_sends_it_once_later(
    at_t0, graph, receiver, monkeypatch
):
    services = at_t0
    await watch(services, receiver)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")

    async def dies(*args: object) -> bool:
        raise RuntimeError("worker killed")

    monkeypatch.setattr(WatchStore, "record", dies)
    with pytest.raises(RuntimeError):
        await services.watcher.tick()
    monkeypatch.undo()
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await services.watcher.tick()
    assert len(receiver.delivered) == 1


async def test_graph_failing_a_read_loses_no_change(at_t0, graph, receiver):
    services = at_t0
    await watch(services, receiver)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await graph.fault(path="/communications/getPresencesByUserId", status=503, count=10)
    await services.watcher.tick()
    assert receiver.received == []
    await graph.clear_faults()
    await travel(services, graph, minutes=1)
    await services.watcher.tick()
    assert [n["current"]["activity"] for n in receiver.delivered] == ["InAMeeting"]


async def test_deleting_a_watch_removes_its_members_and_outbox(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.always = 500
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()
    record, _ = await services.watches.get(created.id)
    await services.watches.delete("test", record)
    store = services.watches.store
    assert await store.members(created.id) == []
    assert await store.pending(created.id) == []
    assert (await store.get(created.id)) == (None, None)


async def test_a_change_and_its_baseline_are_recorded_together_or_not_at_all(at_t0, receiver):
    """One transaction per batch; one member moved on meanwhile (another poller) sends the batch change by
    change, and that member's change is neither queued nor recorded here."""
    services = at_t0
    created = await watch(services, receiver, users=[ALICE_ID, BOB_ID, CAROL_ID])
    store = services.watches.store
    members = {m.user_id: m for m in await store.members(created.id)}
    busy, away = Seen("Busy", "InACall", "1"), Seen("Away", "Away", "2")
    await store.record(created.id, [(members[BOB_ID], away, None)], T0)  # another poller moved Bob on
    items = [(m, busy, Delivery(created.id, f"{m.user_id}.1", b"{}", T0)) for m in members.values()]
    await store.record(created.id, items, T0)
    seen = {m.user_id: m.seen for m in await store.members(created.id)}
    assert seen == {ALICE_ID: busy, BOB_ID: away, CAROL_ID: busy}
    assert sorted(d.key for d in await store.pending(created.id)) == sorted(
        [f"{ALICE_ID}.1", f"{CAROL_ID}.1"]
    )


# --- group watches ---------------------------------------------------------------------------------------


async def group_watch(services: Services, receiver: Receiver, group: str = SUPPORT_GROUP_ID):
    body = WatchInput.model_validate({"callbackUrl": receiver.url, "group": group})
    return await services.watches.create("test", body, services.watches.targets(body))


async def test_a_group_watch_follows_the_group_s_members_as_they_change(at_t0, graph, receiver):
    services = at_t0
    created = await group_watch(services, receiver)
    assert (created.member_count, created.users, created.group) == (3, None, SUPPORT_GROUP_ID)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(CAROL_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()
    assert [(n["user"], n["userId"]) for n in receiver.delivered] == [("carol@contoso.test", CAROL_ID)]

    await graph.set_group_members(SUPPORT_GROUP_ID, [ALICE_ID, CAROL_ID, DAVE_ID])  # Bob leaves, Dave joins
    await travel(services, graph, minutes=30)
    await services.watcher.tick()  # not refreshed yet (WATCH_GROUP_REFRESH_MINUTES: 60)
    assert (await services.watches.get(created.id))[0].member_count == 3
    await travel(services, graph, minutes=31)
    await graph.add_session(DAVE_ID, "teams-desktop", "Away", "Away")  # before his first read: a baseline
    await services.watcher.tick()
    record, _ = await services.watches.get(created.id)
    assert (record.member_count, record.members_refreshed_at) == (3, services.clock.now())
    await travel(services, graph, minutes=1)
    await graph.add_session(BOB_ID, "teams-desktop", "Busy", "InAMeeting")
    await graph.remove_session(DAVE_ID, "teams-desktop")
    await services.watcher.tick()
    assert [(n["userId"], n["current"]["availability"]) for n in receiver.delivered[1:]] == [
        (DAVE_ID, "Offline")
    ]


async def test_a_group_of_many_is_read_page_by_page(at_t0, graph, receiver):
    services = at_t0
    people = [{"userPrincipalName": f"p{n:04d}@contoso.test"} for n in range(1_500)]
    ids = [u["id"] for u in await graph.seed_users(people)]
    [group] = await graph.seed_groups([{"displayName": "Everyone", "members": ids}])
    await graph.clear_journal()
    created = await group_watch(services, receiver, group["id"])
    assert created.member_count == 1_500
    pages = await graph.journal(path=f"/groups/{group['id']}/transitiveMembers")
    assert len(pages) == 2  # 999 a page, Graph's largest


async def test_a_group_that_does_not_exist_or_cannot_be_read_is_refused(at_t0, graph, receiver):
    services = at_t0
    with pytest.raises(ServiceError) as missing:
        await group_watch(services, receiver, "0ff00000-0000-4000-8000-000000000000")
    assert (missing.value.status, missing.value.code) == (404, "groupNotFound")
    await graph.set_permissions(["Presence.ReadWrite.All", "User.ReadBasic.All"])
    with pytest.raises(ServiceError) as refused:
        await group_watch(services, receiver)
    assert (refused.value.status, refused.value.code) == (502, "graphPermissionMissing")
    assert "GroupMember.Read.All" in refused.value.detail
    assert await services.watches.store.all() == []


async def test_a_round_that_delivers_before_failing_restarts_the_failure_count(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.answer(500)
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()  # Alice's change fails
    await travel(services, graph, minutes=1)
    await graph.add_session(BOB_ID, "teams-desktop", "Away", "Away")
    receiver.answer(200, 500)
    await services.watcher.tick()  # Alice's goes, Bob's fails: the receiver is alive
    record, _ = await services.watches.get(created.id)
    now = services.clock.now()
    assert (record.failures, record.failing_since, record.retry_at) == (1, now, now + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("600", timedelta(minutes=10)),
        ("9" * 30, timedelta(hours=1)),
        (
            "Mon, 23 Nov 2026 08:11:00 GMT",
            timedelta(minutes=10),
        ),  # the HTTP-date form, on the service's clock
        ("Mon, 23 Nov 2026 07:00:00 GMT", timedelta(minutes=1)),  # a date passed: the service's own back-off
    ],
)
async def test_a_receiver_s_retry_after_is_honoured_up_to_an_hour(at_t0, graph, receiver, retry_after, wait):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.answer(429)
    receiver.retry_after = retry_after
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()
    record, _ = await services.watches.get(created.id)
    assert (record.retry_at, record.failures) == (services.clock.now() + wait, 1)


async def test_a_watch_deleted_during_its_round_gets_no_further_post(at_t0, graph, receiver):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await graph.add_session(BOB_ID, "teams-desktop", "Away", "Away")

    async def delete_it() -> None:
        record, _ = await services.watches.get(created.id)
        await services.watches.delete("test", record)

    receiver.on_post = delete_it
    await services.watcher.tick()
    assert len(receiver.received) == 1


async def test_a_callback_address_that_is_private_is_never_connected_to(receiver):
    async with WebhookSender(allow_loopback=False) as sender:
        refused = await sender.post(
            receiver.url, b"{}", "secret", "d1", datetime.now(UTC)
        )  # http://127.0.0.1:port
    assert "private or local" in refused.detail
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "https://168.63.129.16/machine?comp=goalstate",
        "https://[::ffff:a83f:8110]/",
        "https://[64:ff9b::a83f:8110]/",
    ],
)
async def test_a_stored_callback_to_azure_s_platform_address_is_never_connected_to(url):
    """A watch made before the platform address was refused at POST time is refused at each delivery."""
    async with WebhookSender(allow_loopback=True) as sender:
        refused = await sender.post(url, b"{}", "secret", "d1", datetime.now(UTC))
    assert (refused.outcome, refused.detail) == (
        "failed",
        "Refused: the host is, or resolves only to, private or local addresses.",
    )


async def test_a_callback_name_that_resolves_to_azure_s_platform_address_is_never_connected_to(monkeypatch):
    """DNS may point a public name at the wireserver after the watch was made: refused at connection."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "wireserver.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("168.63.129.16", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    async with WebhookSender(allow_loopback=True) as sender:
        refused = await sender.post(
            "https://wireserver.example.com/hook", b"{}", "secret", "d1", datetime.now(UTC)
        )
    assert (refused.outcome, refused.detail) == (
        "failed",
        "Refused: the host is, or resolves only to, private or local addresses.",
    )


async def test_a_callback_name_that_resolves_to_a_private_address_is_never_connected_to(receiver):
    url = receiver.url.replace("127.0.0.1", "localhost")
    async with WebhookSender(allow_loopback=False) as sender:
        refused = await sender.post(url, b"{}", "secret", "d1", datetime.now(UTC))
    async with WebhookSender(allow_loopback=True) as sender:  # the local stack
        allowed = await sender.post(url, b"{}", "secret", "d2", datetime.now(UTC))
    assert refused.outcome == "failed"
    assert "private or local" in refused.detail
    assert allowed.outcome == "delivered"
    assert [r.delivery_id for r in receiver.received] == ["d2"]


async def test_a_huge_group_is_not_read_past_the_limit(at_t0, graph):
    services = at_t0
    people = [{"userPrincipalName": f"q{n:04d}@contoso.test"} for n in range(1_500)]
    ids = [u["id"] for u in await graph.seed_users(people)]
    [group] = await graph.seed_groups([{"displayName": "Everyone", "members": ids}])
    await graph.clear_journal()
    found = await services.gateway.group_members(group["id"], limit=500)
    assert len(found) == 999  # one page, then it stops: more than the limit is known
    assert len(await graph.journal(path="/transitiveMembers")) == 1


async def test_a_caller_with_a_limit_cannot_make_more_watches(at_t0, receiver):
    services = at_t0
    body = WatchInput.model_validate({"callbackUrl": receiver.url, "users": [ALICE_ID]})
    for _ in range(2):
        await services.watches.create("user:alice", body, services.watches.targets(body), limit=2)
    with pytest.raises(ServiceError) as third:
        await services.watches.create("user:alice", body, services.watches.targets(body), limit=2)
    assert (third.value.status, third.value.code) == (409, "tooManyWatches")
    await services.watches.create("user:bob", body, services.watches.targets(body), limit=2)  # his own count


async def test_a_disabled_watch_turned_back_on_tells_what_its_receiver_missed_once_per_user(
    at_t0, graph, receiver
):
    services = at_t0
    created = await watch(services, receiver)
    await services.watcher.tick()
    receiver.answer(410)
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    await services.watcher.tick()  # 410: disabled at once, Alice's change dropped
    await travel(services, graph, minutes=1)
    await graph.add_session(ALICE_ID, "teams-desktop", "Away", "Away")
    await graph.add_session(BOB_ID, "teams-desktop", "Busy", "InACall")
    await services.watcher.tick()  # disabled: not read, nothing sent
    assert len(receiver.received) == 1

    record, etag = await services.watches.get(created.id)
    shown = await services.watches.enable("test", record, etag)
    assert (shown.status, shown.disabled_at, shown.failing_since) == ("active", None, None)
    assert shown.last_error is not None  # what went wrong stays visible until a delivery succeeds
    await travel(services, graph, minutes=1)
    await services.watcher.tick()
    told = sorted(
        (n["userId"], n["previous"]["availability"], n["current"]["availability"]) for n in receiver.delivered
    )
    # From what the receiver was last told (Alice's dropped Offline -> Busy never reached it)
    assert told == [(ALICE_ID, "Offline", "Away"), (BOB_ID, "Offline", "Busy")]
    assert all(r.signed_with(created.secret or "") for r in receiver.received)  # the same secret
