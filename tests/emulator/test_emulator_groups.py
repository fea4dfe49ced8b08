"""Groups and their members: members and transitiveMembers (nested groups, cycles), the microsoft.graph.user
cast, $select, paging with $top and $skiptoken, Graph's 400/403/404s, the control plane, and msgraph-sdk
reading the emulator's pages."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)

from localdev.graph import (
    ALICE_ID,
    BOB_ID,
    CAROL_ID,
    DAVE_ID,
    SUPPORT_GROUP_ID,
    SUPPORT_GROUP_NAME,
    EmulatorControl,
    EmulatorControlError,
    create_app,
)
from localdev.graph.resources import DEFAULT_USER_PROPERTIES
from localdev.graph.state import Group, Tenant, User
from tests.emulator.test_msgraph_sdk import StaticToken

# Two groups that contain each other: Engineering -> Platform -> Engineering.
ENGINEERING_ID = "e0000000-0000-4000-8000-0000000000e1"
PLATFORM_ID = "f0000000-0000-4000-8000-0000000000f2"
SUPPORT_USERS = [ALICE_ID, BOB_ID, CAROL_ID]  # ordered by id, as Graph's pages are here


def members_path(group_id: str, relation: str = "transitiveMembers", cast: bool = True) -> str:
    return f"/groups/{group_id}/{relation}" + ("/microsoft.graph.user" if cast else "")


async def error_of(graph, response) -> tuple[int, str, str]:
    error = (await graph.json(response))["error"]
    return response.status, error["code"], error["message"]


async def ok_json(graph, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await graph.get(path, headers=headers)
    body = await graph.json(response)
    assert response.status == 200, body
    return body


def relative(next_link: str) -> str:
    """An absolute @odata.nextLink as a path under /v1.0, for the test client."""
    parts = urlsplit(next_link)
    return parts.path.removeprefix("/v1.0") + "?" + parts.query


async def all_pages(graph, path: str) -> tuple[list[dict[str, Any]], int]:
    """Every object of a paged collection, following @odata.nextLink to the end; and the pages read."""
    body = await ok_json(graph, path)
    found, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        body = await ok_json(graph, relative(body["@odata.nextLink"]))
        found += body["value"]
        pages += 1
    return found, pages


@pytest.fixture
async def nested(control: EmulatorControl) -> EmulatorControl:
    """Engineering: alice and Platform; Platform: bob, dave and Engineering (a cycle)."""
    await control.seed_groups(
        [
            {"id": ENGINEERING_ID, "displayName": "Engineering", "members": [ALICE_ID, PLATFORM_ID]},
            {"id": PLATFORM_ID, "displayName": "Platform", "members": [BOB_ID, DAVE_ID, ENGINEERING_ID]},
        ]
    )
    return control


async def seed_users(control: EmulatorControl, count: int) -> list[str]:
    users = await control.seed_users(
        [{"userPrincipalName": f"user{i:03d}@contoso.test"} for i in range(count)]
    )
    return [u["id"] for u in users]


# --- the demo group and the response shape ---------------------------------------------------------------


async def test_the_demo_group_is_served_in_graphs_shape(graph, control):
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$select=id,userPrincipalName")
    assert body["@odata.context"] == f"{graph.client.make_url('/v1.0')}/$metadata#users(id,userPrincipalName)"
    assert body["value"] == [
        {"@odata.type": "#microsoft.graph.user", "id": ALICE_ID, "userPrincipalName": "alice@contoso.test"},
        {"@odata.type": "#microsoft.graph.user", "id": BOB_ID, "userPrincipalName": "bob@contoso.test"},
        {"@odata.type": "#microsoft.graph.user", "id": CAROL_ID, "userPrincipalName": "carol@contoso.test"},
    ]
    assert set(body) == {"@odata.context", "value"}  # one page: no nextLink


async def test_without_select_each_user_has_graphs_default_properties(graph, control):
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID, "members"))
    assert body["@odata.context"].endswith("/$metadata#users")
    first = body["value"][0]
    assert list(first) == ["@odata.type", *DEFAULT_USER_PROPERTIES]
    assert (first["displayName"], first["mail"], first["businessPhones"]) == (
        "Alice Adams",
        "alice@contoso.test",
        [],
    )


async def test_the_cast_may_use_the_namespace_alias_as_msgraph_sdk_does(graph, control):
    body = await ok_json(graph, f"/groups/{SUPPORT_GROUP_ID}/transitiveMembers/graph.user?$select=id")
    assert [u["id"] for u in body["value"]] == SUPPORT_USERS


async def test_a_cast_without_a_namespace_is_not_a_route(graph, control):
    response = await graph.get(f"/groups/{SUPPORT_GROUP_ID}/members/user")
    assert await error_of(graph, response) == (
        400,
        "BadRequest",
        "Resource not found for the segment 'user'.",
    )


# --- members, transitive members, nesting and cycles ------------------------------------------------------


async def test_members_are_the_direct_members_and_the_cast_keeps_the_users(graph, nested):
    users = await ok_json(graph, members_path(ENGINEERING_ID, "members") + "?$select=id")
    assert [u["id"] for u in users["value"]] == [ALICE_ID]

    everyone = await ok_json(graph, members_path(ENGINEERING_ID, "members", cast=False) + "?$select=id")
    assert everyone["@odata.context"].endswith("/$metadata#directoryObjects(id)")
    assert everyone["value"] == [
        {"@odata.type": "#microsoft.graph.user", "id": ALICE_ID},
        {"@odata.type": "#microsoft.graph.group", "id": PLATFORM_ID},
    ]


async def test_transitive_members_flatten_a_cycle_listing_each_user_once(graph, nested):
    users = await ok_json(graph, members_path(ENGINEERING_ID) + "?$select=id")
    assert [u["id"] for u in users["value"]] == [ALICE_ID, BOB_ID, DAVE_ID]
    # From the other side of the cycle, too; a group is never its own member.
    users = await ok_json(graph, members_path(PLATFORM_ID) + "?$select=id")
    assert [u["id"] for u in users["value"]] == [ALICE_ID, BOB_ID, DAVE_ID]


async def test_transitive_members_without_the_cast_list_users_and_nested_groups(graph, nested):
    body = await ok_json(graph, members_path(ENGINEERING_ID, cast=False) + "?$select=id,displayName")
    assert body["@odata.context"].endswith("/$metadata#directoryObjects(id,displayName)")
    assert [(m["@odata.type"], m["id"], m["displayName"]) for m in body["value"]] == [
        ("#microsoft.graph.user", ALICE_ID, "Alice Adams"),
        ("#microsoft.graph.user", BOB_ID, "Bob Brown"),
        ("#microsoft.graph.user", DAVE_ID, "Dave Davis"),
        ("#microsoft.graph.group", PLATFORM_ID, "Platform"),
    ]


async def test_without_select_a_nested_group_has_graphs_group_properties(graph, nested):
    body = await ok_json(graph, members_path(ENGINEERING_ID, "members", cast=False))
    [group] = [m for m in body["value"] if m["@odata.type"] == "#microsoft.graph.group"]
    assert (group["id"], group["displayName"], group["securityEnabled"], group["groupTypes"]) == (
        PLATFORM_ID,
        "Platform",
        True,
        [],
    )
    assert "userPrincipalName" not in group


async def test_a_select_naming_user_properties_leaves_groups_with_their_own(graph, nested):
    body = await ok_json(graph, members_path(ENGINEERING_ID, "members", cast=False) + "?$select=id,mail")
    assert body["value"] == [
        {"@odata.type": "#microsoft.graph.user", "id": ALICE_ID, "mail": "alice@contoso.test"},
        {"@odata.type": "#microsoft.graph.group", "id": PLATFORM_ID, "mail": None},
    ]
    body = await ok_json(graph, members_path(ENGINEERING_ID, "members", cast=False) + "?$select=userType")
    assert body["value"] == [
        {"@odata.type": "#microsoft.graph.user", "userType": "Member"},
        {"@odata.type": "#microsoft.graph.group"},
    ]


async def test_a_user_reached_by_two_paths_is_listed_once(graph, control):
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    # A holds B and C; both hold carol; C also holds B.
    await control.seed_groups(
        [
            {"id": a, "displayName": "A", "members": [b, c, ALICE_ID]},
            {"id": b, "displayName": "B", "members": [CAROL_ID]},
            {"id": c, "displayName": "C", "members": [CAROL_ID, b, DAVE_ID]},
        ]
    )
    found, _ = await all_pages(graph, members_path(a) + "?$select=id")
    assert [u["id"] for u in found] == [ALICE_ID, CAROL_ID, DAVE_ID]
    everything, _ = await all_pages(graph, members_path(a, cast=False) + "?$select=id")
    assert sorted(m["id"] for m in everything) == sorted([ALICE_ID, CAROL_ID, DAVE_ID, b, c])


async def test_an_empty_group_has_no_members(graph, control):
    [empty] = await control.seed_groups([{"displayName": "Nobody yet"}])
    body = await ok_json(graph, members_path(empty["id"]))
    assert body["value"] == []
    assert "@odata.nextLink" not in body


def test_the_tenant_expands_a_cycle_without_looping():
    tenant = Tenant()
    tenant.add_user(User(ALICE_ID, "alice@contoso.test", "Alice", None))
    ids = [str(uuid.uuid4()) for _ in range(50)]
    # A ring of 50 groups, each holding the next; the last holds the first and alice.
    tenant.add_groups(
        [Group(gid, f"g{i}", (ids[(i + 1) % 50],)) for i, gid in enumerate(ids[:-1])]
        + [Group(ids[-1], "last", (ids[0], ALICE_ID))]
    )
    members = tenant.group_members(ids[0], transitive=True)
    assert [m.id for m in members if isinstance(m, User)] == [ALICE_ID]
    assert sorted(m.id for m in members if isinstance(m, Group)) == sorted(ids[1:])
    assert [m.id for m in tenant.group_members(ids[0], transitive=False)] == [ids[1]]


# --- $select ----------------------------------------------------------------------------------------------


async def test_select_names_the_properties_returned(graph, control):
    path = members_path(SUPPORT_GROUP_ID) + "?$select=displayName,mail,id,userPrincipalName"
    body = await ok_json(graph, path)
    assert body["@odata.context"].endswith("/$metadata#users(displayName,mail,id,userPrincipalName)")
    assert body["value"][1] == {
        "@odata.type": "#microsoft.graph.user",
        "displayName": "Bob Brown",
        "mail": "bob@contoso.test",
        "id": BOB_ID,
        "userPrincipalName": "bob@contoso.test",
    }


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            members_path(SUPPORT_GROUP_ID) + "?$select=id,nope",
            "Could not find a property named 'nope' on type 'microsoft.graph.user'.",
        ),
        (
            members_path(SUPPORT_GROUP_ID, cast=False) + "?$select=nope",
            "Could not find a property named 'nope' on type 'microsoft.graph.directoryObject'.",
        ),
        (members_path(SUPPORT_GROUP_ID) + "?$select=id,,mail", "Invalid $select: 'id,,mail'."),
    ],
)
async def test_an_unknown_selected_property_is_400(graph, control, path, message):
    assert await error_of(graph, await graph.get(path)) == (400, "BadRequest", message)


# --- paging -----------------------------------------------------------------------------------------------


async def test_paging_with_top_visits_every_user_once_in_id_order(graph, control):
    many = await seed_users(control, 17)
    [inner] = await control.seed_groups([{"displayName": "Inner", "members": [*many[10:], ALICE_ID]}])
    [outer] = await control.seed_groups(
        [{"displayName": "Outer", "members": [*many[:12], inner["id"], SUPPORT_GROUP_ID]}]
    )
    found, pages = await all_pages(graph, members_path(outer["id"]) + "?$select=id,userPrincipalName&$top=4")
    ids = [u["id"] for u in found]
    expected = sorted({*many, ALICE_ID, BOB_ID, CAROL_ID})
    assert ids == expected  # every user once, ordered by id
    assert pages == -(-len(expected) // 4)
    assert all(set(u) == {"@odata.type", "id", "userPrincipalName"} for u in found)


async def test_the_next_link_is_absolute_and_keeps_the_query_options(graph, control):
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$select=id&$top=2")
    assert [u["id"] for u in body["value"]] == [ALICE_ID, BOB_ID]
    assert list(body) == ["@odata.context", "@odata.nextLink", "value"]
    link = urlsplit(body["@odata.nextLink"])
    base = urlsplit(str(graph.client.make_url("/v1.0")))
    assert (link.scheme, link.netloc) == (base.scheme, base.netloc)
    assert link.path == f"/v1.0/groups/{SUPPORT_GROUP_ID}/transitiveMembers/microsoft.graph.user"
    query = parse_qs(link.query)
    assert (query["$select"], query["$top"]) == (["id"], ["2"])
    assert len(query["$skiptoken"]) == 1
    last = await ok_json(graph, relative(body["@odata.nextLink"]))
    assert [u["id"] for u in last["value"]] == [CAROL_ID]
    assert "@odata.nextLink" not in last


async def test_the_default_page_is_100_and_999_is_the_largest(graph, control):
    many = await seed_users(control, 150)
    [group] = await control.seed_groups([{"displayName": "Big", "members": many}])
    first = await ok_json(graph, members_path(group["id"]) + "?$select=id")
    assert len(first["value"]) == 100
    second = await ok_json(graph, relative(first["@odata.nextLink"]))
    assert len(second["value"]) == 50
    assert "@odata.nextLink" not in second
    whole = await ok_json(graph, members_path(group["id"]) + "?$select=id&$top=999")
    assert [u["id"] for u in whole["value"]] == sorted(many)


async def test_a_page_reflects_membership_changes_between_pages(graph, control):
    first = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$select=id&$top=2")
    await control.set_group_members(SUPPORT_GROUP_ID, [ALICE_ID, BOB_ID, DAVE_ID])
    rest = await ok_json(graph, relative(first["@odata.nextLink"]))
    assert [u["id"] for u in rest["value"]] == [DAVE_ID]  # the token is a position, not a snapshot


@pytest.mark.parametrize("top", ["0", "1000", "5000"])
async def test_a_top_outside_1_to_999_is_graphs_400(graph, control, top):
    response = await graph.get(members_path(SUPPORT_GROUP_ID) + f"?$top={top}")
    assert await error_of(graph, response) == (
        400,
        "Request_UnsupportedQuery",
        f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
    )


@pytest.mark.parametrize("top", ["abc", "-1", "2.5", ""])
async def test_a_top_that_is_not_a_number_is_400(graph, control, top):
    status, code, message = await error_of(
        graph, await graph.get(members_path(SUPPORT_GROUP_ID) + f"?$top={top}")
    )
    assert (status, code) == (400, "BadRequest")
    assert message.startswith(f"Invalid value '{top}' for $top query option found.")


def forged(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "",
        "!!!",
        forged(b"\x00" * 16 + f"{SUPPORT_GROUP_ID}/transitiveMembers/user\n{ALICE_ID}".encode()),
    ],
)
async def test_a_skiptoken_the_emulator_did_not_issue_is_400(graph, control, token):
    response = await graph.get(members_path(SUPPORT_GROUP_ID) + f"?$skiptoken={token}")
    assert await error_of(graph, response) == (400, "Request_BadRequest", "Invalid Skip Token")


async def test_a_skiptoken_is_good_only_for_the_collection_it_came_from(graph, nested):
    body = await ok_json(graph, members_path(ENGINEERING_ID) + "?$top=1")
    token = parse_qs(urlsplit(body["@odata.nextLink"]).query)["$skiptoken"][0]
    for other in (
        members_path(PLATFORM_ID),  # another group
        members_path(ENGINEERING_ID, "members"),  # another relation
        members_path(ENGINEERING_ID, cast=False),  # without the cast
    ):
        response = await graph.get(f"{other}?$top=1&$skiptoken={token}")
        assert (response.status, (await graph.json(response))["error"]["code"]) == (400, "Request_BadRequest")
    assert (await graph.get(members_path(ENGINEERING_ID) + f"?$skiptoken={token}")).status == 200


async def test_a_tampered_skiptoken_is_400(graph, control):
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$top=1")
    token = parse_qs(urlsplit(body["@odata.nextLink"]).query)["$skiptoken"][0]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1  # another "after" id, the signature left as it was
    response = await graph.get(members_path(SUPPORT_GROUP_ID) + f"?$skiptoken={forged(bytes(raw))}")
    assert (await error_of(graph, response))[:2] == (400, "Request_BadRequest")


# --- other query options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "$filter=displayName eq 'Alice Adams'",
        "$orderby=displayName",
        '$search="displayName:alice"',
        "$expand=manager",
        "$skip=1",
        "filter=displayName eq 'Alice Adams'",  # v1.0 takes the options without their $ too
    ],
)
async def test_query_options_the_emulator_does_not_serve_are_400(graph, control, query):
    status, code, message = await error_of(
        graph, await graph.get(members_path(SUPPORT_GROUP_ID) + f"?{query}")
    )
    assert (status, code) == (400, "BadRequest")
    assert "is not supported on this resource" in message


async def test_count_needs_consistency_level_eventual(graph, control):
    path = members_path(SUPPORT_GROUP_ID) + "?$count=true&$top=2&$select=id"
    assert await error_of(graph, await graph.get(path)) == (
        400,
        "Request_BadRequest",
        "$count is not currently supported.",
    )
    body = await ok_json(graph, path, headers={"ConsistencyLevel": "eventual"})
    assert body["@odata.count"] == 3  # the whole collection, not the page
    assert len(body["value"]) == 2
    assert "$count=true" in body["@odata.nextLink"]


# --- errors and permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("relation", "cast"), [("members", True), ("transitiveMembers", False)])
async def test_an_unknown_group_is_404_and_a_non_guid_400(graph, control, relation, cast):
    missing = str(uuid.uuid4())
    assert await error_of(graph, await graph.get(members_path(missing, relation, cast))) == (
        404,
        "Request_ResourceNotFound",
        f"Resource '{missing}' does not exist or one of its queried reference-property objects are "
        "not present.",
    )
    assert await error_of(graph, await graph.get(members_path("support-team", relation, cast))) == (
        400,
        "Request_BadRequest",
        "Invalid object identifier 'support-team'.",
    )


async def test_a_user_id_is_not_a_group(graph, control):
    status, code, _ = await error_of(graph, await graph.get(members_path(ALICE_ID)))
    assert (status, code) == (404, "Request_ResourceNotFound")


async def test_without_a_group_member_role_it_is_403(graph, control):
    await control.set_permissions(["Presence.ReadWrite.All", "User.ReadBasic.All"])
    for relation, cast in (("members", True), ("members", False), ("transitiveMembers", True)):
        assert await error_of(graph, await graph.get(members_path(SUPPORT_GROUP_ID, relation, cast))) == (
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )


async def test_the_permission_is_checked_before_the_group(graph, control):
    await control.set_permissions(["User.ReadBasic.All"])
    assert (await graph.get(members_path(str(uuid.uuid4())))).status == 403


@pytest.mark.parametrize(
    "role",
    [
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
)
async def test_any_role_graph_documents_reads_members(graph, control, role):
    await control.set_permissions([role, "User.ReadBasic.All"])
    assert (await graph.get(members_path(SUPPORT_GROUP_ID))).status == 200


async def test_without_a_user_read_role_members_are_their_type_and_id_only(graph, control):
    await control.set_permissions(["GroupMember.Read.All"])
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$select=id,userPrincipalName")
    assert body["value"][0] == {
        "@odata.type": "#microsoft.graph.user",
        "id": ALICE_ID,
        "userPrincipalName": None,
    }
    await control.set_permissions(["Directory.Read.All"])  # reads users as well as groups
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID) + "?$select=id,userPrincipalName")
    assert body["value"][0]["userPrincipalName"] == "alice@contoso.test"


# --- the pipeline: journal, faults, $batch ----------------------------------------------------------------


async def test_the_journal_records_the_call(graph, control):
    response = await graph.get(members_path(SUPPORT_GROUP_ID) + "?$select=id,userPrincipalName&$top=2")
    [entry] = await control.journal()
    assert (entry.method, entry.path, entry.query, entry.status, entry.request_id) == (
        "GET",
        f"/v1.0/groups/{SUPPORT_GROUP_ID}/transitiveMembers/microsoft.graph.user",
        {"$select": "id,userPrincipalName", "$top": "2"},
        200,
        response.headers["request-id"],
    )
    await graph.get(members_path(str(uuid.uuid4())))
    assert [e.status for e in await control.journal(path="/transitiveMembers")] == [200, 404]


async def test_faults_apply_to_group_members(graph, control):
    await control.fault("/groups/*/transitiveMembers/*", status=429, retry_after=3)
    response = await graph.get(members_path(SUPPORT_GROUP_ID))
    assert (response.status, response.headers["Retry-After"]) == (429, "3")
    assert (await graph.get(members_path(SUPPORT_GROUP_ID))).status == 200


async def test_members_are_served_inside_a_batch(graph, control):
    batch = {"requests": [{"id": "1", "method": "GET", "url": members_path(SUPPORT_GROUP_ID) + "?$top=2"}]}
    [inner] = (await graph.json(await graph.post("/$batch", batch)))["responses"]
    assert inner["status"] == 200
    assert len(inner["body"]["value"]) == 2
    assert inner["body"]["@odata.nextLink"].startswith("http")


# --- control plane ----------------------------------------------------------------------------------------


async def test_the_demo_directory_has_the_support_team(control):
    assert await control.groups() == [
        {"id": SUPPORT_GROUP_ID, "displayName": SUPPORT_GROUP_NAME, "members": [ALICE_ID, BOB_ID, CAROL_ID]}
    ]


async def test_seeded_groups_get_an_id_and_nest(graph, control):
    [team, dept] = await control.seed_groups(
        [{"displayName": "Team", "members": [DAVE_ID.upper()]}, {"displayName": "Dept"}]
    )
    assert uuid.UUID(team["id"])
    assert team["members"] == [DAVE_ID]  # ids are stored lower case
    await control.set_group_members(dept["id"], [team["id"], SUPPORT_GROUP_ID])
    body = await ok_json(graph, members_path(dept["id"]) + "?$select=id")
    assert [u["id"] for u in body["value"]] == [ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID]


async def test_setting_members_adds_and_removes(graph, control):
    changed = await control.set_group_members(SUPPORT_GROUP_ID, [BOB_ID, DAVE_ID, DAVE_ID])
    assert changed == {
        "id": SUPPORT_GROUP_ID,
        "displayName": SUPPORT_GROUP_NAME,
        "members": [BOB_ID, DAVE_ID],
    }
    body = await ok_json(graph, members_path(SUPPORT_GROUP_ID, "members") + "?$select=id")
    assert [u["id"] for u in body["value"]] == [BOB_ID, DAVE_ID]
    await control.set_group_members(SUPPORT_GROUP_ID, [])
    assert (await ok_json(graph, members_path(SUPPORT_GROUP_ID)))["value"] == []


@pytest.mark.parametrize(
    "seed",
    [
        {"displayName": "x", "id": "not-a-guid"},
        {"displayName": "x", "members": ["alice@contoso.test"]},  # an object id, not a UPN
        {"displayName": "x", "members": [str(uuid.uuid4())]},  # nobody has this id
        {"displayName": "x", "id": ENGINEERING_ID, "members": [ENGINEERING_ID]},  # itself
        {"displayName": ""},
        {"displayName": "x", "owners": []},
    ],
)
async def test_a_group_graph_could_not_hold_is_refused(control, seed):
    with pytest.raises(EmulatorControlError) as caught:
        await control.seed_groups([seed])
    assert caught.value.status == 400
    assert len(await control.groups()) == 1


@pytest.mark.parametrize("taken", [SUPPORT_GROUP_ID, ALICE_ID])
async def test_a_taken_id_is_409_and_nothing_is_seeded(control, taken):
    with pytest.raises(EmulatorControlError) as caught:
        await control.seed_groups([{"displayName": "ok"}, {"displayName": "x", "id": taken}])
    assert caught.value.status == 409
    assert [g["id"] for g in await control.groups()] == [SUPPORT_GROUP_ID]


async def test_setting_members_checks_the_group_and_the_members(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.set_group_members(str(uuid.uuid4()), [ALICE_ID])
    assert caught.value.status == 404
    for members in ([str(uuid.uuid4())], ["x"], [SUPPORT_GROUP_ID]):
        with pytest.raises(EmulatorControlError) as caught:
            await control.set_group_members(SUPPORT_GROUP_ID, members)
        assert caught.value.status == 400
    assert (await control.groups())[0]["members"] == [ALICE_ID, BOB_ID, CAROL_ID]


async def test_a_user_cannot_take_a_group_id(control):
    with pytest.raises(EmulatorControlError) as caught:
        await control.seed_users([{"userPrincipalName": "x@contoso.test", "id": SUPPORT_GROUP_ID}])
    assert caught.value.status == 409


async def test_control_plane_group_calls_are_not_journaled(control):
    await control.seed_groups([{"displayName": "x"}])
    await control.set_group_members(SUPPORT_GROUP_ID, [ALICE_ID])
    await control.groups()
    assert await control.journal() == []


async def test_reset_restores_the_demo_group(control):
    await control.set_group_members(SUPPORT_GROUP_ID, [DAVE_ID])
    await control.seed_groups([{"displayName": "x"}])
    await control.reset()
    assert [(g["id"], g["members"]) for g in await control.groups()] == [
        (SUPPORT_GROUP_ID, [ALICE_ID, BOB_ID, CAROL_ID])
    ]


async def test_without_demo_users_there_is_no_group():
    server = TestServer(create_app(users=None))
    await server.start_server()
    try:
        async with EmulatorControl(str(server.make_url(""))) as control:
            assert await control.groups() == []
    finally:
        await server.close()


# --- msgraph-sdk --------------------------------------------------------------------------------------------


@pytest.fixture
async def sdk(server, control) -> AsyncIterator[GraphServiceClient]:
    client = GraphServiceClient(credentials=StaticToken(), scopes=["https://graph.microsoft.com/.default"])
    client.request_adapter.base_url = str(server.make_url("/v1.0"))
    yield client
    await client.request_adapter._http_client.aclose()


async def test_msgraph_sdk_reads_transitive_member_users_page_by_page(sdk, control):
    [everyone] = await control.seed_groups(
        [{"displayName": "Everyone", "members": [SUPPORT_GROUP_ID, DAVE_ID]}]
    )
    builder = sdk.groups.by_group_id(everyone["id"]).transitive_members.graph_user
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
        select=["id", "userPrincipalName"], top=2
    )
    page = await builder.get(request_configuration=RequestConfiguration(query_parameters=query))
    pages = [page]
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        pages.append(page)

    assert [[(u.id, u.user_principal_name) for u in p.value] for p in pages] == [
        [(ALICE_ID, "alice@contoso.test"), (BOB_ID, "bob@contoso.test")],
        [(CAROL_ID, "carol@contoso.test"), (DAVE_ID, "dave@contoso.test")],
    ]
    assert all(u.odata_type == "#microsoft.graph.user" for p in pages for u in p.value)
    first, second = await control.journal()
    path = f"/v1.0/groups/{everyone['id']}/transitiveMembers/graph.user"
    assert (first.path, first.query, first.status) == (
        path,
        {"$select": "id,userPrincipalName", "$top": "2"},
        200,
    )
    assert (second.path, second.status) == (path, 200)
    assert set(second.query) == {"$select", "$top", "$skiptoken"}
