"""A flow maker's view of reading presence, through the local host, asserting on the emulator's journal."""

from __future__ import annotations

from localdev.graph.demo import ALICE_ID, BOB_ID

PRESENCE_FIELDS = {
    "user",
    "userId",
    "availability",
    "activity",
    "statusMessage",
    "statusMessageExpiresAt",
    "outOfOffice",
    "outOfOfficeMessage",
    "workLocation",
    "sequenceNumber",
}


async def test_get_presence_by_upn_is_the_flat_presence(api, graph):
    await graph.add_session(
        ALICE_ID, session_id="teams-desktop", availability="DoNotDisturb", activity="Presenting"
    )
    reply = await api.get("/api/users/alice@contoso.test/presence")

    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert set(reply.body) == PRESENCE_FIELDS
    assert reply.body["user"] == "alice@contoso.test"
    assert reply.body["userId"] == ALICE_ID
    assert (reply.body["availability"], reply.body["activity"]) == ("DoNotDisturb", "Presenting")
    assert reply.body["statusMessage"] is None
    assert [e.path for e in await graph.journal()] == [
        "/v1.0/users/alice@contoso.test",
        f"/v1.0/users/{ALICE_ID}/presence",
    ]


async def test_a_user_with_no_session_is_offline(api, graph):
    reply = await api.get(f"/api/users/{BOB_ID}/presence")
    assert (reply.status, reply.body["availability"], reply.body["activity"]) == (200, "Offline", "Offline")


async def test_an_unknown_user_is_a_404_problem(api, graph):
    reply = await api.get("/api/users/nobody@contoso.test/presence")
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"
    assert reply.body["code"] == "userNotFound"
    assert "nobody@contoso.test" in reply.body["detail"]


async def test_a_malformed_user_is_a_400_and_graph_is_never_called(api, graph):
    for bad in ["not-a-user", "alice%40contoso.test%2F..", "alice@contoso", "%24batch", "12345"]:
        reply = await api.get(f"/api/users/{bad}/presence")
        assert reply.status == 400, bad
        assert reply.body["code"] == "invalidUser"
        assert reply.body["errors"][0]["field"] == "user"
    assert await graph.journal() == []


async def test_without_the_function_key_nothing_happens(api, graph):
    assert (await api.get("/api/users/alice@contoso.test/presence", key=None)).status == 401
    assert (await api.get("/api/users/alice@contoso.test/presence", key="wrong")).status == 401
    assert await graph.journal() == []


async def test_the_key_may_come_as_code_in_the_query(api, graph):
    reply = await api.get("/api/users/alice@contoso.test/presence?code=e2e-test-key", key=None)
    assert reply.status == 200


async def test_query_answers_each_user_or_says_why_not(api, graph):
    reply = await api.post(
        "/api/presence/query",
        json={"users": ["alice@contoso.test", BOB_ID, "nobody@contoso.test", "not a user"]},
    )
    assert reply.status == 200
    assert [(p["user"], p["userId"]) for p in reply.body["value"]] == [
        ("alice@contoso.test", ALICE_ID),
        (BOB_ID, BOB_ID),
    ]
    assert {(e["user"], e["status"], e["code"]) for e in reply.body["errors"]} == {
        ("nobody@contoso.test", 404, "userNotFound"),
        ("not a user", 400, "invalidUser"),
    }
    reads = await graph.journal(path="/communications/getPresencesByUserId")
    assert [sorted(e.body["ids"]) for e in reads] == [sorted([ALICE_ID, BOB_ID])]


async def test_bad_query_bodies_are_4xx_without_a_graph_call(api, graph):
    cases = [
        (
            {"data": b'{"users": ["a@b.c"]}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupportedMediaType",
        ),
        ({"data": b"{oops", "headers": {"content-type": "application/json"}}, 400, "invalidJson"),
        ({"json": {"users": []}}, 400, "invalidRequest"),
        ({"json": {"users": ["a@b.c"], "extra": 1}}, 400, "invalidRequest"),
        ({"json": {"users": ["a@b.c"] * 10_001}}, 400, "invalidRequest"),
        (
            {"data": b" " * (1024 * 1024 + 1), "headers": {"content-type": "application/json"}},
            413,
            "bodyTooLarge",
        ),
    ]
    for kwargs, status, code in cases:
        reply = await api.post("/api/presence/query", **kwargs)
        assert (reply.status, reply.body["code"]) == (status, code)
        assert reply.content_type == "application/problem+json"
    assert await graph.journal() == []


async def test_persistent_throttling_is_a_429_with_retry_after(api, graph):
    await graph.fault(method="GET", path="*/presence", status=429, count=100, retry_after=1)
    reply = await api.get(f"/api/users/{ALICE_ID}/presence")
    assert (reply.status, reply.body["code"]) == (429, "graphThrottled")
    assert reply.headers["Retry-After"] == "1"


async def test_wrong_method_is_refused(api, graph):
    reply = await api.call("DELETE", "/api/presence/query")
    assert reply.status in (404, 405)


async def test_an_alias_that_is_no_upn_finds_the_user(api, graph):
    reply = await api.get("/api/users/alice.adams@contoso.test/presence")
    assert reply.status == 200, reply.body
    assert (reply.body["user"], reply.body["userId"]) == ("alice.adams@contoso.test", ALICE_ID)
    await graph.seed_users(
        [
            {"userPrincipalName": "x@contoso.test", "proxyAddresses": ["smtp:team@contoso.test"]},
            {"userPrincipalName": "y@contoso.test", "mail": "team@contoso.test"},
        ]
    )
    reply = await api.get("/api/users/team@contoso.test/presence")
    assert (reply.status, reply.content_type, reply.body["code"]) == (
        409,
        "application/problem+json",
        "ambiguousUser",
    )


async def test_out_of_office_reads_as_graph_shows_it(api, graph):
    await graph.add_session(ALICE_ID, "teams-desktop", "Available", "Available")
    await graph.patch_user(ALICE_ID, out_of_office={"isOutOfOffice": True, "message": "Back Monday"})
    body = (await api.get(f"/api/users/{ALICE_ID}/presence")).body
    assert (body["availability"], body["activity"]) == ("Available", "OutOfOffice")
    assert (body["outOfOffice"], body["outOfOfficeMessage"]) == (True, "Back Monday")
