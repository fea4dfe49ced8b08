"""Service principals and app role assignments: finding Microsoft Graph's and an identity's service principal,
granting app roles on appRoleAssignedTo (a second grant is Graph's 400), permissions, the control plane."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import (
    ALICE_ID,
    FUNC_MI_ID,
    FUNC_MI_NAME,
    GRAPH_APP_ID,
    GRAPH_APP_ROLE_IDS,
    GRAPH_SP_ID,
    LOOPBACK_APP_ID,
    EmulatorControl,
    EmulatorControlError,
    create_app,
)

ADMIN_ROLES = ["AppRoleAssignment.ReadWrite.All", "Application.Read.All"]
PRESENCE_RW = GRAPH_APP_ROLE_IDS["Presence.ReadWrite.All"]
GRANTS = f"/servicePrincipals/{GRAPH_SP_ID}/appRoleAssignedTo"


def grant_body(role_id: str = PRESENCE_RW, principal_id: str = FUNC_MI_ID, **extra) -> dict:
    return {"principalId": principal_id, "resourceId": GRAPH_SP_ID, "appRoleId": role_id, **extra}


@pytest.fixture
async def admin(control: EmulatorControl) -> EmulatorControl:
    await control.set_permissions(ADMIN_ROLES)
    return control


async def error_of(graph, response) -> tuple[int, str, str]:
    error = (await graph.json(response))["error"]
    return response.status, error["code"], error["message"]


def test_the_app_role_ids_are_microsofts():
    # The Microsoft Graph permissions reference: application permission ids, the same in every tenant.
    assert GRAPH_APP_ROLE_IDS["Presence.ReadWrite.All"] == "83cded22-8297-4ff6-a7fa-e97e9545a259"
    assert GRAPH_APP_ROLE_IDS["Presence.Read.All"] == "a70e0c2d-e793-494c-94c4-118fa0a67f42"
    assert GRAPH_APP_ROLE_IDS["User.ReadBasic.All"] == "97235f07-e226-4f63-ace3-39588e11d3a1"
    assert GRAPH_APP_ROLE_IDS["GroupMember.Read.All"] == "98830695-27a2-44f7-8c18-0c3ebc9698f6"


# --- finding service principals ----------------------------------------------------------------------------


async def test_microsoft_graph_is_found_by_its_app_id_with_its_app_roles(graph, admin):
    response = await graph.get(f"/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'&$select=id,appRoles")
    body = await graph.json(response)
    assert response.status == 200
    assert body["@odata.context"].endswith("/$metadata#servicePrincipals(id,appRoles)")
    [sp] = body["value"]
    assert set(sp) == {"id", "appRoles"}
    assert sp["id"] == GRAPH_SP_ID
    roles = {role["value"]: role for role in sp["appRoles"]}
    assert {value: role["id"] for value, role in roles.items()} == GRAPH_APP_ROLE_IDS
    assert roles["Presence.ReadWrite.All"]["allowedMemberTypes"] == ["Application"]
    assert roles["Presence.ReadWrite.All"]["isEnabled"] is True


async def test_a_managed_identity_is_found_by_display_name_ignoring_case(graph, admin):
    response = await graph.get("/servicePrincipals?$filter=displayName eq 'FUNC-Presence-Demo'")
    [sp] = (await graph.json(response))["value"]
    assert (sp["id"], sp["displayName"], sp["appId"]) == (FUNC_MI_ID, FUNC_MI_NAME, LOOPBACK_APP_ID)
    assert sp["servicePrincipalType"] == "ManagedIdentity"
    assert sp["appRoles"] == []


async def test_a_quote_in_a_filter_literal_is_doubled(graph, admin):
    await admin.seed_service_principals([{"displayName": "o'brien-func"}])
    response = await graph.get(
        "/servicePrincipals?$filter=displayName eq 'o''brien-func'&$select=displayName"
    )
    assert (await graph.json(response))["value"] == [{"displayName": "o'brien-func"}]


async def test_a_name_nobody_has_is_an_empty_list(graph, admin):
    response = await graph.get("/servicePrincipals?$filter=displayName eq 'nobody'")
    assert (response.status, (await graph.json(response))["value"]) == (200, [])


async def test_without_a_filter_every_service_principal_is_listed(graph, admin):
    body = await graph.json(await graph.get("/servicePrincipals?$select=id"))
    assert sorted(sp["id"] for sp in body["value"]) == sorted([GRAPH_SP_ID, FUNC_MI_ID])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("$filter=servicePrincipalType eq 'ManagedIdentity'", "Request_UnsupportedQuery"),
        ("$filter=appId ne 'x'", "Request_UnsupportedQuery"),
        ("$filter=startswith(displayName,'func')", "BadRequest"),
        ("$filter=noSuchProperty eq 'x'", "BadRequest"),
        ("$filter=displayName eq func", "BadRequest"),
        ("$filter=displayName eq 'func", "BadRequest"),
        ("$select=id,noSuchProperty", "BadRequest"),
        ("$top=5", "BadRequest"),
    ],
)
async def test_query_options_the_emulator_does_not_serve_are_400(graph, admin, query, code):
    status, got_code, _ = await error_of(graph, await graph.get(f"/servicePrincipals?{query}"))
    assert (status, got_code) == (400, code)


async def test_a_service_principal_by_object_id(graph, admin):
    response = await graph.get(f"/servicePrincipals/{FUNC_MI_ID}?$select=id,displayName")
    body = await graph.json(response)
    assert body["@odata.context"].endswith("/$metadata#servicePrincipals(id,displayName)/$entity")
    assert (body["id"], body["displayName"]) == (FUNC_MI_ID, FUNC_MI_NAME)


async def test_an_unknown_object_id_is_404_and_a_non_guid_400(graph, admin):
    missing = str(uuid.uuid4())
    assert await error_of(graph, await graph.get(f"/servicePrincipals/{missing}")) == (
        404,
        "Request_ResourceNotFound",
        f"Resource '{missing}' does not exist or one of its queried reference-property objects are "
        "not present.",
    )
    assert await error_of(graph, await graph.get("/servicePrincipals/func-presence-demo")) == (
        400,
        "Request_BadRequest",
        "Invalid object identifier 'func-presence-demo'.",
    )


# --- granting ---------------------------------------------------------------------------------------------


async def test_a_grant_is_201_and_listed_on_both_ends(graph, admin):
    response = await graph.post(GRANTS, grant_body())
    created = await graph.json(response)
    assert response.status == 201
    assert created["@odata.context"].endswith(
        f"/$metadata#servicePrincipals('{GRAPH_SP_ID}')/appRoleAssignedTo/$entity"
    )
    assert {k: created[k] for k in ("principalId", "resourceId", "appRoleId", "principalType")} == {
        "principalId": FUNC_MI_ID,
        "resourceId": GRAPH_SP_ID,
        "appRoleId": PRESENCE_RW,
        "principalType": "ServicePrincipal",
    }
    assert (created["principalDisplayName"], created["resourceDisplayName"]) == (
        FUNC_MI_NAME,
        "Microsoft Graph",
    )
    assert len(created["id"]) == 43  # Graph's ids for an assignment are base64url, not GUIDs

    to_graph = (await graph.json(await graph.get(GRANTS)))["value"]
    of_identity = (await graph.json(await graph.get(f"/servicePrincipals/{FUNC_MI_ID}/appRoleAssignments")))[
        "value"
    ]
    assert [a["id"] for a in to_graph] == [a["id"] for a in of_identity] == [created["id"]]
    [seen] = await admin.app_role_assignments(principal_id=FUNC_MI_ID)
    assert (seen["appRoleValue"], seen["id"]) == ("Presence.ReadWrite.All", created["id"])


async def test_a_second_identical_grant_is_graphs_400(graph, admin):
    assert (await graph.post(GRANTS, grant_body())).status == 201
    assert await error_of(graph, await graph.post(GRANTS, grant_body())) == (
        400,
        "Request_BadRequest",
        "Permission being assigned already exists on the object.",
    )
    assert len(await admin.app_role_assignments()) == 1


async def test_an_app_role_the_resource_does_not_define_is_400(graph, admin):
    assert await error_of(graph, await graph.post(GRANTS, grant_body(role_id=str(uuid.uuid4())))) == (
        400,
        "Request_BadRequest",
        f"Permission being assigned was not found on application '{GRAPH_APP_ID}'.",
    )


async def test_an_unknown_principal_is_404_and_a_user_400(graph, admin):
    missing = str(uuid.uuid4())
    status, code, _ = await error_of(graph, await graph.post(GRANTS, grant_body(principal_id=missing)))
    assert (status, code) == (404, "Request_ResourceNotFound")
    assert (await graph.post(GRANTS, grant_body(principal_id=ALICE_ID))).status == 400


@pytest.mark.parametrize(
    "body",
    [
        grant_body(principalDisplayName="x"),  # read-only (strict reading)
        grant_body(scope="x"),  # not a property of appRoleAssignment
        {"principalId": FUNC_MI_ID, "resourceId": GRAPH_SP_ID},  # appRoleId missing
        grant_body(role_id="Presence.ReadWrite.All"),  # a value, not the role's id
        {**grant_body(), "resourceId": FUNC_MI_ID},  # another resource than the URL's
        {**grant_body(), "@odata.type": "#microsoft.graph.user"},
    ],
)
async def test_a_body_graph_would_refuse_is_400(graph, admin, body):
    assert (await graph.post(GRANTS, body)).status == 400
    assert await admin.app_role_assignments() == []


async def test_the_odata_type_may_name_the_entity(graph, admin):
    body = {"@odata.type": "#microsoft.graph.appRoleAssignment", **grant_body()}
    assert (await graph.post(GRANTS, body)).status == 201


async def test_a_grant_is_journaled_with_its_body(graph, admin):
    await graph.post(GRANTS, grant_body())
    [entry] = await admin.journal(method="POST")
    assert (entry.path, entry.body, entry.status) == (f"/v1.0{GRANTS}", grant_body(), 201)


async def test_a_grant_goes_through_batch_like_any_request(graph, admin):
    batch = {
        "requests": [
            {
                "id": "1",
                "method": "POST",
                "url": GRANTS,
                "headers": {"Content-Type": "application/json"},
                "body": grant_body(),
            }
        ]
    }
    [inner] = (await graph.json(await graph.post("/$batch", batch)))["responses"]
    assert inner["status"] == 201


# --- permissions -------------------------------------------------------------------------------------------


async def test_the_default_roles_read_no_service_principal(graph, control):
    status, code, _ = await error_of(graph, await graph.get(f"/servicePrincipals/{FUNC_MI_ID}"))
    assert (status, code) == (403, "Authorization_RequestDenied")


@pytest.mark.parametrize(
    ("roles", "status"),
    [
        (["Application.Read.All"], 403),
        (["AppRoleAssignment.ReadWrite.All"], 403),  # Graph: it needs Application.Read.All as well
        (["AppRoleAssignment.ReadWrite.All", "Application.Read.All"], 201),
        (["AppRoleAssignment.ReadWrite.All", "Directory.Read.All"], 201),
    ],
)
async def test_a_grant_needs_app_role_assignment_write_and_application_read(graph, control, roles, status):
    await control.set_permissions(roles)
    assert (await graph.post(GRANTS, grant_body())).status == status


async def test_application_read_all_reads(graph, control):
    await control.set_permissions(["Application.Read.All"])
    assert (await graph.get(GRANTS)).status == 200
    assert (await graph.get(f"/servicePrincipals/{FUNC_MI_ID}/appRoleAssignments")).status == 200
    assert (await graph.get("/servicePrincipals?$select=id")).status == 200


# --- control plane ----------------------------------------------------------------------------------------


async def test_the_control_plane_lists_the_seeded_service_principals(admin):
    sps = {sp["id"]: sp for sp in await admin.service_principals()}
    assert set(sps) == {GRAPH_SP_ID, FUNC_MI_ID}
    assert sps[GRAPH_SP_ID]["appId"] == GRAPH_APP_ID
    assert sps[FUNC_MI_ID]["displayName"] == FUNC_MI_NAME


async def test_seeded_service_principals_and_grants_are_served(graph, admin):
    role_id, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    [api, client] = await admin.seed_service_principals(
        [
            {"displayName": "my-api", "appId": app_id, "servicePrincipalType": "Application",
             "appRoles": [{"id": role_id, "value": "Things.Read"}]},
            {"displayName": "func-other"},
        ]
    )  # fmt: skip
    assert client["servicePrincipalType"] == "ManagedIdentity"
    granted = await admin.grant_app_role(client["id"], api["id"], role_id)
    assert granted["appRoleValue"] == "Things.Read"
    listed = (await graph.json(await graph.get(f"/servicePrincipals/{api['id']}/appRoleAssignedTo")))["value"]
    assert [(a["principalId"], a["appRoleId"]) for a in listed] == [(client["id"], role_id)]
    assert await admin.journal() == [entry for entry in await admin.journal() if entry.method == "GET"]


async def test_a_seeded_grant_is_graphs_existing_grant(graph, admin):
    await admin.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, PRESENCE_RW)
    assert (await graph.post(GRANTS, grant_body())).status == 400
    with pytest.raises(EmulatorControlError) as caught:
        await admin.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, PRESENCE_RW)
    assert caught.value.status == 409


@pytest.mark.parametrize(
    "seed",
    [
        {"displayName": "x", "id": GRAPH_SP_ID},  # the id is taken
        {"displayName": "x", "id": ALICE_ID},  # by a user
        {"displayName": "x", "appId": GRAPH_APP_ID},  # the appId is taken
    ],
)
async def test_a_service_principal_that_exists_cannot_be_seeded_again(admin, seed):
    with pytest.raises(EmulatorControlError) as caught:
        await admin.seed_service_principals([seed])
    assert caught.value.status == 409


async def test_a_grant_of_an_unknown_role_or_principal_is_refused(admin):
    with pytest.raises(EmulatorControlError) as caught:
        await admin.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, str(uuid.uuid4()))
    assert caught.value.status == 400
    with pytest.raises(EmulatorControlError) as caught:
        await admin.grant_app_role(str(uuid.uuid4()), GRAPH_SP_ID, PRESENCE_RW)
    assert caught.value.status == 404


async def test_reset_drops_grants_and_seeded_service_principals(admin):
    await admin.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, PRESENCE_RW)
    await admin.seed_service_principals([{"displayName": "func-other"}])
    await admin.reset()
    assert await admin.app_role_assignments() == []
    assert sorted(sp["id"] for sp in await admin.service_principals()) == sorted([GRAPH_SP_ID, FUNC_MI_ID])


async def test_without_demo_users_only_microsoft_graph_is_there():
    server = TestServer(create_app(users=None))
    await server.start_server()
    try:
        async with EmulatorControl(str(server.make_url(""))) as control:
            assert [sp["id"] for sp in await control.service_principals()] == [GRAPH_SP_ID]
    finally:
        await server.close()
