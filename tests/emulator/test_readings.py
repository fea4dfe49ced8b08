"""The switches for what Graph's docs leave open (localdev/graph/README.md, "Readings"): each reading is
reachable through the control plane, and the defaults are the documented ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from localdev.graph import ALICE_ID, BOB_ID, CAROL_ID, LOOPBACK_APP_ID, EmulatorControlError

PRESENCE = f"/users/{ALICE_ID}/presence"


def get(item_id, url):
    return {"id": item_id, "method": "GET", "url": url}


async def test_the_defaults_are_the_documented_readings(control):
    assert await control.readings() == {
        "batchOrder": "shuffled",
        "batchSeed": 0,
        "batchIdsCaseInsensitive": True,
        "sequenceOnComputedChange": True,
        "unknownPresenceIds": "omitted",
        "outOfOfficeOverHeld": "kept",
    }
    await control.set_readings(unknown_presence_ids="error", batch_order="given")
    await control.reset()
    assert (await control.readings())["unknownPresenceIds"] == "omitted"


async def test_an_unknown_reading_is_refused(control):
    with pytest.raises(EmulatorControlError) as refused:
        await control.set_readings(unknown_presence_ids="sometimes")
    assert refused.value.status == 400


async def test_batch_answers_come_shuffled_by_default_and_in_order_when_asked(graph, control):
    requests = [get(str(i), f"/users/{ALICE_ID}/presence") for i in range(20)]
    body = await graph.json(await graph.post("/$batch", {"requests": requests}))
    shuffled = [r["id"] for r in body["responses"]]
    assert sorted(shuffled, key=int) == [str(i) for i in range(20)]
    assert shuffled != [str(i) for i in range(20)]
    await control.set_readings(batch_order="given")
    body = await graph.json(await graph.post("/$batch", {"requests": requests}))
    assert [r["id"] for r in body["responses"]] == [str(i) for i in range(20)]


async def test_batch_ids_differing_only_in_case_are_the_same_id_unless_switched(graph, control):
    requests = [get("a", f"/users/{ALICE_ID}/presence"), get("A", f"/users/{BOB_ID}/presence")]
    assert (await graph.post("/$batch", {"requests": requests})).status == 400
    await control.set_readings(batch_ids_case_insensitive=False)
    assert (await graph.post("/$batch", {"requests": requests})).status == 200


async def test_a_424_fault_fails_the_whole_envelope(graph, control):
    await control.fault("/$batch", status=424, method="POST")
    response = await graph.post("/$batch", {"requests": [get("1", PRESENCE)]})
    body = await graph.json(response)
    assert (response.status, body["error"]["code"]) == (424, "FailedDependency")
    assert [e.path for e in await control.journal(path=PRESENCE)] == []  # no inner request ran


async def test_a_fault_can_leave_retry_after_out(graph, control):
    await control.fault("*/presence", status=429, retry_after_form="none")
    response = await graph.get(PRESENCE)
    assert response.status == 429
    assert "Retry-After" not in response.headers


async def test_a_fault_can_send_retry_after_as_an_http_date_on_the_emulator_clock(graph, control):
    now = await control.set_clock(datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC))
    await control.fault("*/presence", status=503, retry_after=5, retry_after_form="http-date")
    response = await graph.get(PRESENCE)
    when = parsedate_to_datetime(response.headers["Retry-After"])
    assert response.headers["Retry-After"].endswith(" GMT")
    assert 5 <= (when - now).total_seconds() < 6.5  # whole seconds, never shorter than asked


async def test_random_faults_draw_each_retry_after_form_from_the_seed(graph, control):
    await control.random_faults(
        1.0, seed=3, statuses=(429,), retry_after_forms=("seconds", "http-date", "none")
    )
    headers = [(await graph.get(PRESENCE)).headers.get("Retry-After") for _ in range(30)]
    assert None in headers
    assert "1" in headers
    assert any(h is not None and h.endswith(" GMT") for h in headers)


async def test_sequence_number_stays_on_a_fade_when_switched(graph, control):
    await control.set_readings(sequence_on_computed_change=False)
    body = {"sessionId": LOOPBACK_APP_ID, "availability": "Available", "activity": "Available"}
    await graph.post(f"{PRESENCE}/setPresence", {**body, "expirationDuration": "PT1H"})
    before = await graph.json(await graph.get(PRESENCE))
    await control.advance(minutes=5)
    faded = await graph.json(await graph.get(PRESENCE))
    assert (faded["availability"], faded["activity"]) != (before["availability"], before["activity"])
    assert faded["sequenceNumber"] == before["sequenceNumber"]


async def test_unknown_presence_ids_fail_the_call_in_the_error_reading(graph, control):
    ids = [BOB_ID, str(uuid.uuid4()), CAROL_ID]
    omitted = await graph.json(await graph.post("/communications/getPresencesByUserId", {"ids": ids}))
    assert [p["id"] for p in omitted["value"]] == [BOB_ID, CAROL_ID]
    await control.set_readings(unknown_presence_ids="error")
    response = await graph.post("/communications/getPresencesByUserId", {"ids": ids})
    body = await graph.json(response)
    assert (response.status, body["error"]["code"]) == (404, "NotFound")
    assert ids[1] in body["error"]["message"]
    known = await graph.post("/communications/getPresencesByUserId", {"ids": [BOB_ID]})
    assert known.status == 200


async def test_the_journal_names_the_readings_that_shaped_an_answer(graph, control):
    ids = [BOB_ID, str(uuid.uuid4())]
    await graph.post("/communications/getPresencesByUserId", {"ids": ids})
    await graph.post("/communications/getPresencesByUserId", {"ids": [BOB_ID]})
    await graph.post("/$batch", {"requests": [get("1", PRESENCE), get("2", PRESENCE)]})
    await control.set_readings(unknown_presence_ids="error", sequence_on_computed_change=False)
    await graph.post("/communications/getPresencesByUserId", {"ids": ids})
    body = {"sessionId": LOOPBACK_APP_ID, "availability": "Available", "activity": "Available"}
    await graph.post(f"{PRESENCE}/setPresence", body)
    await control.advance(minutes=5)
    await graph.get(PRESENCE)
    journal = await control.journal()
    assert [(e.path.rsplit("/", 1)[-1], e.readings) for e in journal if e.readings or "$batch" in e.path] == [
        ("getPresencesByUserId", ("unknownPresenceIds=omitted",)),
        ("$batch", ("batchOrder=shuffled",)),
        ("getPresencesByUserId", ("unknownPresenceIds=error",)),
        ("presence", ("sequenceOnComputedChange=false",)),
    ]


@pytest.mark.parametrize(("reading", "activity"), [("kept", "InACall"), ("shown", "OutOfOffice")])
async def test_out_of_office_over_a_call_keeps_its_activity_or_shows_out_of_office(
    graph, control, reading, activity
):
    await control.set_readings(out_of_office_over_held=reading)
    await control.add_session(ALICE_ID, "teams-desktop", "Busy", "InACall")
    await control.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": None})
    body = await graph.json(await graph.get(PRESENCE))
    assert (body["availability"], body["activity"]) == ("Busy", activity)
    assert (await control.user_state(ALICE_ID))["activity"] == activity
    [read] = await control.journal(path="/presence")
    assert read.readings == (f"outOfOfficeOverHeld={reading}",)


async def test_out_of_office_over_available_is_documented_and_not_switched(graph, control):
    await control.set_readings(out_of_office_over_held="shown")
    await control.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    await control.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": None})
    body = await graph.json(await graph.get(PRESENCE))
    assert (body["availability"], body["activity"]) == ("Available", "OutOfOffice")
    [read] = await control.journal(path="/presence")
    assert read.readings == ()  # the reading made no difference here
