"""Tokens, the tenant's permissions, Graph-shaped errors and request ids, unknown routes."""

from __future__ import annotations

import uuid

import pytest

from localdev.graph import ALICE_ID, LOOPBACK_APP_ID
from tests.emulator.conftest import b64url, unsigned_jwt


async def test_a_request_without_a_token_is_401_invalid_authentication_token(graph):
    graph.token = None
    response = await graph.get(f"/users/{ALICE_ID}/presence")
    assert response.status == 401
    assert (await graph.json(response))["error"]["code"] == "InvalidAuthenticationToken"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        f"{b64url({'alg': 'none'})}.!!!.",
        f"{b64url({'alg': 'none'})}.{b64url({'aud': 'https://graph.microsoft.com'})}.",  # no appid / azp
        f"{b64url({'alg': 'none'})}.{b64url({'appid': ''})}.",
        f"{b64url({'alg': 'none'})}.{b64url(['appid'])}.",
    ],
)
async def test_a_malformed_token_is_401(graph, token):
    graph.token = token
    response = await graph.get(f"/users/{ALICE_ID}/presence")
    assert response.status == 401
    assert (await graph.json(response))["error"]["code"] == "InvalidAuthenticationToken"


async def test_a_basic_scheme_is_401(graph):
    response = await graph.get(f"/users/{ALICE_ID}/presence", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status == 401


async def test_a_v2_token_with_azp_is_accepted(graph):
    graph.token = unsigned_jwt(azp=LOOPBACK_APP_ID, ver="2.0")
    assert (await graph.get(f"/users/{ALICE_ID}/presence")).status == 200


async def test_without_a_presence_role_presence_is_403(graph, control):
    await control.set_permissions(["User.ReadBasic.All"])
    response = await graph.get(f"/users/{ALICE_ID}/presence")
    error = (await graph.json(response))["error"]
    assert (response.status, error["code"], error["message"]) == (
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )


async def test_presence_read_all_reads_but_does_not_write(graph, control):
    await control.set_permissions(["Presence.Read.All"])
    assert (await graph.get(f"/users/{ALICE_ID}/presence")).status == 200
    assert (await graph.post("/communications/getPresencesByUserId", {"ids": [ALICE_ID]})).status == 200
    body = {"sessionId": LOOPBACK_APP_ID, "availability": "Available", "activity": "Available"}
    assert (await graph.post(f"/users/{ALICE_ID}/presence/setPresence", body)).status == 403


async def test_resolving_a_user_needs_a_user_read_role(graph, control):
    await control.set_permissions(["Presence.ReadWrite.All"])
    assert (await graph.get("/users/alice@contoso.test")).status == 403
    await control.set_permissions(["Presence.ReadWrite.All", "User.Read.All"])
    assert (await graph.get("/users/alice@contoso.test")).status == 200


async def test_errors_are_graph_shaped_and_carry_the_request_id(graph):
    client_request_id = str(uuid.uuid4())
    response = await graph.get("/users/nobody@contoso.test", headers={"client-request-id": client_request_id})
    body = await graph.json(response)
    request_id = response.headers["request-id"]
    assert uuid.UUID(request_id).version == 4
    assert response.headers["client-request-id"] == client_request_id
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "innerError"}
    assert body["error"]["innerError"] == {
        "date": "2026-11-23T09:00:00",
        "request-id": request_id,
        "client-request-id": client_request_id,
    }


async def test_every_response_carries_a_request_id(graph):
    ok = await graph.get(f"/users/{ALICE_ID}/presence")
    control_plane = await graph.client.get("/_emulator/clock")
    elsewhere = await graph.client.get("/beta/me")
    ids = [r.headers["request-id"] for r in (ok, control_plane, elsewhere)]
    assert len(set(ids)) == 3
    assert all(uuid.UUID(i).version == 4 for i in ids)


async def test_an_unknown_route_is_400_naming_the_segment(graph):
    response = await graph.get(f"/users/{ALICE_ID}/calendar")
    error = (await graph.json(response))["error"]
    assert (response.status, error["code"], error["message"]) == (
        400,
        "BadRequest",
        "Resource not found for the segment 'calendar'.",
    )


async def test_a_known_route_with_another_method_is_405(graph):
    response = await graph.get(f"/users/{ALICE_ID}/presence/setPresence")
    assert response.status == 405
    assert (await graph.json(response))["error"]["code"] == "Request_BadRequest"


async def test_me_is_refused_for_an_app_only_token(graph):
    response = await graph.get("/me/presence")
    assert response.status == 400
    assert "delegated" in (await graph.json(response))["error"]["message"]


async def test_me_is_the_signed_in_user_for_a_delegated_token(graph):
    graph.token = unsigned_jwt(appid="teams-web", scp="Presence.Read", oid=ALICE_ID)
    assert (await graph.json(await graph.get("/me/presence")))["id"] == ALICE_ID


async def test_paths_outside_v1_are_404_graph_shaped(graph):
    response = await graph.client.get("/beta/users")
    assert response.status == 404
    assert set((await response.json())["error"]) == {"code", "message", "innerError"}
