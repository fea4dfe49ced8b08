"""JSON batching: up to 20 requests, each through the same pipeline, with the batch's authentication."""

from __future__ import annotations

import pytest

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID


def get(item_id, url):
    return {"id": item_id, "method": "GET", "url": url}


async def batch(graph, requests):
    response = await graph.post("/$batch", {"requests": requests})
    body = await graph.json(response)
    return response.status, body


def by_id(body):
    return {r["id"]: r for r in body["responses"]}


async def test_batch_runs_each_request_and_answers_by_id(graph):
    status, body = await batch(
        graph,
        [
            get("upn", "/users/alice@contoso.test?$select=id,userPrincipalName"),
            get("presence", f"users/{BOB_ID}/presence"),
            {
                "id": "set",
                "method": "POST",
                "url": f"/users/{ALICE_ID}/presence/setPresence",
                "headers": {"Content-Type": "application/json"},
                "body": {"sessionId": LOOPBACK_APP_ID, "availability": "Busy", "activity": "InACall"},
            },
        ],
    )
    responses = by_id(body)
    assert status == 200
    assert responses["upn"]["status"] == 200
    assert (responses["upn"]["body"]["id"], set(responses["upn"]["body"]) - {"@odata.context"}) == (
        ALICE_ID,
        {"id", "userPrincipalName"},
    )
    assert responses["presence"]["body"]["availability"] == "Offline"
    assert (responses["set"]["status"], responses["set"]["body"]) == (200, None)
    alice = await graph.json(await graph.get(f"/users/{ALICE_ID}/presence"))
    assert (alice["availability"], alice["activity"]) == ("Busy", "InACall")


@pytest.mark.parametrize(("count", "status"), [(20, 200), (21, 400), (0, 400)])
async def test_a_batch_holds_one_to_twenty_requests(graph, count, status):
    requests = [get(str(i), f"/users/{ALICE_ID}/presence") for i in range(count)]
    assert (await batch(graph, requests))[0] == status


async def test_an_inner_404_leaves_the_other_requests_alone(graph):
    status, body = await batch(
        graph, [get("1", "/users/nobody@contoso.test"), get("2", "/users/bob@contoso.test")]
    )
    responses = by_id(body)
    assert status == 200
    assert (responses["1"]["status"], responses["1"]["body"]["error"]["code"]) == (
        404,
        "Request_ResourceNotFound",
    )
    assert responses["2"]["status"] == 200


async def test_an_inner_request_is_validated_like_a_direct_call(graph):
    bad = {
        "id": "1",
        "method": "POST",
        "url": f"/users/{ALICE_ID}/presence/setPresence",
        "headers": {"Content-Type": "application/json"},
        "body": {"sessionId": LOOPBACK_APP_ID, "availability": "Available", "activity": "AvailableInactive"},
    }
    _, body = await batch(graph, [bad])
    assert by_id(body)["1"]["status"] == 400


async def test_an_inner_request_gets_its_own_429_from_faults(graph, control):
    await control.fault("*/presence", status=429, method="GET", count=1, retry_after=3)
    _, body = await batch(
        graph, [get("a", f"/users/{ALICE_ID}/presence"), get("b", f"/users/{BOB_ID}/presence")]
    )
    responses = by_id(body)
    assert (responses["a"]["status"], responses["a"]["headers"]["Retry-After"]) == (429, "3")
    assert responses["a"]["body"]["error"]["code"] == "TooManyRequests"
    assert responses["b"]["status"] == 200


async def test_a_fault_on_every_path_spares_the_batch_envelope(graph, control):
    await control.fault("*", status=503, count=5)
    status, body = await batch(graph, [get("a", f"/users/{ALICE_ID}/presence")])
    assert (status, by_id(body)["a"]["status"]) == (200, 503)


async def test_a_fault_naming_batch_hits_the_envelope(graph, control):
    await control.fault("/$batch", status=429)
    status, _ = await batch(graph, [get("a", f"/users/{ALICE_ID}/presence")])
    assert status == 429


@pytest.mark.parametrize(
    "requests",
    [
        [get("1", "/users/bob@contoso.test"), get("1", "/users/alice@contoso.test")],
        [{**get("1", "/users/bob@contoso.test"), "dependsOn": []}],
        [
            {
                "id": "1",
                "method": "POST",
                "url": "/communications/getPresencesByUserId",
                "body": {"ids": [ALICE_ID]},
            }
        ],
        [get("1", "https://graph.microsoft.com/v1.0/users/bob@contoso.test")],
        [{"id": "1", "method": "GET"}],
        [{**get("1", "/users/bob@contoso.test"), "extra": True}],
    ],
    ids=[
        "duplicate-ids",
        "dependsOn",
        "body-without-content-type",
        "absolute-url",
        "no-url",
        "unknown-property",
    ],
)
async def test_a_malformed_batch_is_refused_whole(graph, requests):
    assert (await batch(graph, requests))[0] == 400


async def test_a_batch_without_a_token_is_401(graph):
    graph.token = None
    assert (await batch(graph, [get("1", f"/users/{ALICE_ID}/presence")]))[0] == 401


async def test_inner_requests_are_journaled_with_the_batch_request_id(graph, control):
    response = await graph.post("/$batch", {"requests": [get("x", "/users/bob@contoso.test?$select=id")]})
    entries = await control.journal()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("POST", "/v1.0/$batch", 200),
        ("GET", "/v1.0/users/bob@contoso.test", 200),
    ]
    envelope, inner = entries
    assert envelope.request_id == response.headers["request-id"]
    assert (inner.batch_request_id, inner.batch_item_id, inner.query) == (
        envelope.request_id,
        "x",
        {"$select": "id"},
    )
    assert inner.request_id != envelope.request_id
