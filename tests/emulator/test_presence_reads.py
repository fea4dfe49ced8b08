"""Reading users and presence: Graph's shapes, object ids only on presence routes, getPresencesByUserId."""

from __future__ import annotations

import uuid

import pytest

from localdev.graph import ALICE_ID, BOB_ID, CAROL_ID


async def test_presence_has_graphs_shape(graph):
    response = await graph.get(f"/users/{ALICE_ID}/presence")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = await graph.json(response)
    assert body["@odata.context"].endswith(f"/v1.0/$metadata#users('{ALICE_ID}')/presence/$entity")
    assert {k: v for k, v in body.items() if k not in {"@odata.context", "sequenceNumber"}} == {
        "id": ALICE_ID,
        "availability": "Offline",
        "activity": "Offline",
        "statusMessage": None,
        "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
        "workLocation": {"workLocationType": "unspecified", "source": "none", "placeId": None},
    }
    assert isinstance(body["sequenceNumber"], str)


async def test_communications_presences_is_the_same_resource(graph, control):
    await control.add_session(ALICE_ID, "teams-desktop", "Busy", "InAMeeting")
    by_user = await graph.json(await graph.get(f"/users/{ALICE_ID}/presence"))
    by_communications = await graph.json(await graph.get(f"/communications/presences/{ALICE_ID}"))
    assert by_communications["@odata.context"].endswith("/$metadata#communications/presences/$entity")
    del by_user["@odata.context"], by_communications["@odata.context"]
    assert by_user == by_communications


async def test_presence_of_an_unknown_object_id_is_404(graph):
    response = await graph.get(f"/users/{uuid.uuid4()}/presence")
    assert response.status == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/alice@contoso.test/presence"),
        ("GET", "/communications/presences/alice@contoso.test"),
        ("POST", "/users/alice@contoso.test/presence/setStatusMessage"),
    ],
)
async def test_a_upn_is_refused_on_presence_routes(graph, method, path):
    body = {"statusMessage": {"message": {"content": "x", "contentType": "text"}}}
    response = await (graph.get(path) if method == "GET" else graph.post(path, body))
    assert response.status == 400
    assert "object id" in (await graph.json(response))["error"]["message"]


async def test_a_doubled_slash_after_the_version_is_tolerated(graph):
    assert (await graph.get(f"/users/{ALICE_ID}/presence".replace("/users", "//users"))).status == 200


async def test_odata_query_options_are_refused_on_presence(graph):
    assert (await graph.get(f"/users/{ALICE_ID}/presence?$select=availability")).status == 400


# --- getPresencesByUserId ---


async def test_get_presences_by_user_id_answers_known_ids_and_leaves_unknown_out(graph):
    ids = [BOB_ID, str(uuid.uuid4()), ALICE_ID.upper()]
    response = await graph.post("/communications/getPresencesByUserId", {"ids": ids})
    body = await graph.json(response)
    assert body["@odata.context"].endswith("/$metadata#Collection(microsoft.graph.presence)")
    assert [p["id"] for p in body["value"]] == [BOB_ID, ALICE_ID]
    assert "@odata.context" not in body["value"][0]


@pytest.mark.parametrize(("count", "status"), [(1, 200), (650, 200), (651, 400), (0, 400)])
async def test_get_presences_by_user_id_takes_one_to_650_ids(graph, count, status):
    ids = [CAROL_ID] + [str(uuid.uuid4()) for _ in range(count - 1)] if count else []
    response = await graph.post("/communications/getPresencesByUserId", {"ids": ids})
    assert response.status == status


@pytest.mark.parametrize(
    "body", [{"ids": ["alice@contoso.test"]}, {"ids": [42]}, {}, {"ids": None}, {"id": [ALICE_ID]}]
)
async def test_get_presences_by_user_id_refuses_what_is_not_a_list_of_object_ids(graph, body):
    assert (await graph.post("/communications/getPresencesByUserId", body)).status == 400


# --- users ---


async def test_a_user_is_found_by_object_id(graph):
    body = await graph.json(await graph.get(f"/users/{BOB_ID}"))
    assert (body["id"], body["userPrincipalName"], body["mail"]) == (
        BOB_ID,
        "bob@contoso.test",
        "bob@contoso.test",
    )
    assert body["@odata.context"].endswith("/$metadata#users/$entity")
    assert "businessPhones" in body


async def test_a_user_is_found_by_upn_case_insensitively_and_select_is_honoured(graph):
    response = await graph.get("/users/Alice@Contoso.TEST?$select=id,userPrincipalName")
    body = await graph.json(response)
    assert body == {
        "@odata.context": body["@odata.context"],
        "id": ALICE_ID,
        "userPrincipalName": "alice@contoso.test",
    }
    assert body["@odata.context"].endswith("/$metadata#users(id,userPrincipalName)/$entity")


async def test_an_unknown_property_in_select_is_400(graph):
    response = await graph.get("/users/alice@contoso.test?$select=id,shoeSize")
    assert response.status == 400
    assert "shoeSize" in (await graph.json(response))["error"]["message"]


async def test_an_unknown_user_is_404_request_resource_not_found(graph):
    response = await graph.get("/users/nobody@contoso.test")
    error = (await graph.json(response))["error"]
    assert (response.status, error["code"]) == (404, "Request_ResourceNotFound")
    assert error["message"] == (
        "Resource 'nobody@contoso.test' does not exist or one of its queried reference-property objects "
        "are not present."
    )


async def test_select_works_without_the_dollar_as_graph_v1_allows(graph):
    body = await graph.json(await graph.get("/users/bob@contoso.test?select=displayName"))
    assert {k for k in body if k != "@odata.context"} == {"displayName"}
