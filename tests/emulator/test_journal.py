"""The journal: what reached the wire, without credentials, oldest first, on the emulator clock."""

from __future__ import annotations

from datetime import UTC, datetime

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID
from tests.emulator.conftest import T0

SET_PRESENCE = {
    "sessionId": LOOPBACK_APP_ID,
    "availability": "Busy",
    "activity": "InACall",
    "expirationDuration": "PT1H",
}


async def test_an_entry_holds_the_request_as_received_and_the_status_answered(graph, control):
    response = await graph.post(f"/users/{ALICE_ID}/presence/setPresence", SET_PRESENCE)
    [entry] = await control.journal()
    assert (entry.seq, entry.method, entry.path, entry.query, entry.body, entry.status) == (
        entry.seq,
        "POST",
        f"/v1.0/users/{ALICE_ID}/presence/setPresence",
        {},
        SET_PRESENCE,
        200,
    )
    assert entry.request_id == response.headers["request-id"]
    assert entry.at == T0
    assert entry.headers["Content-Type"] == "application/json"


async def test_credentials_are_stripped_from_recorded_headers(graph, control):
    headers = {
        "x-functions-key": "k1",
        "Ocp-Apim-Subscription-Key": "k2",
        "X-Client-Secret": "s",
        "X-Refresh-Token": "t",
        "Cookie": "session=1",
        "client-request-id": "kept",
    }
    await graph.get(f"/users/{ALICE_ID}/presence", headers=headers)
    [entry] = await control.journal()
    names = {name.lower() for name in entry.headers}
    assert "client-request-id" in names
    assert names.isdisjoint(
        {
            "authorization",
            "x-functions-key",
            "ocp-apim-subscription-key",
            "x-client-secret",
            "x-refresh-token",
            "cookie",
        }
    )
    assert "Bearer" not in repr(entry)


async def test_entries_filter_by_method_and_path_substring_oldest_first(graph, control):
    await graph.get(f"/users/{ALICE_ID}/presence")
    await graph.post(f"/users/{ALICE_ID}/presence/setPresence", SET_PRESENCE)
    await graph.get(f"/users/{BOB_ID}/presence")
    presence_reads = await control.journal(path="/presence", method="GET")
    assert [e.path for e in presence_reads] == [
        f"/v1.0/users/{ALICE_ID}/presence",
        f"/v1.0/users/{BOB_ID}/presence",
    ]
    assert [e.method for e in await control.journal(path="/setPresence")] == ["POST"]
    seqs = [e.seq for e in await control.journal()]
    assert seqs == sorted(seqs)


async def test_entries_are_stamped_with_the_emulator_clock(graph, control):
    await control.set_clock(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    await graph.get(f"/users/{ALICE_ID}/presence")
    assert [e.at for e in await control.journal()] == [datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)]


async def test_rejected_requests_are_recorded_too(graph, control):
    graph.token = None
    await graph.get(f"/users/{ALICE_ID}/presence")
    assert [e.status for e in await control.journal()] == [401]


async def test_control_plane_calls_are_not_recorded(graph, control):
    await control.user_state(ALICE_ID)
    await control.now()
    assert await control.journal() == []


async def test_clearing_the_journal_empties_it(graph, control):
    await graph.get(f"/users/{ALICE_ID}/presence")
    await control.clear_journal()
    assert await control.journal() == []


async def test_a_faulted_call_records_the_fault(graph, control):
    await control.fault("*/presence", status=429, retry_after=2)
    await graph.get(f"/users/{ALICE_ID}/presence")
    [entry] = await control.journal()
    assert (entry.status, entry.fault) == (
        429,
        {"source": "rule", "status": 429, "delayMs": 0, "retryAfter": 2, "retryAfterForm": "seconds"},
    )
