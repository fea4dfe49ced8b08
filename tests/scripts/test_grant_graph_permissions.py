"""scripts/grant-graph-permissions against the Graph emulator served in-process: what Graph receives (the
journal), what the script prints, and its exit status."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from localdev.graph import (
    FUNC_MI_ID,
    FUNC_MI_NAME,
    GRAPH_APP_ID,
    GRAPH_APP_ROLE_IDS,
    GRAPH_SP_ID,
    EmulatorControl,
    create_app,
)
from scripts import grant_graph_permissions as grant

REPO = Path(__file__).resolve().parents[2]
ADMIN_ROLES = ["AppRoleAssignment.ReadWrite.All", "Application.Read.All"]
GRANTS_PATH = f"/v1.0/servicePrincipals/{GRAPH_SP_ID}/appRoleAssignedTo"


def grant_body(role: str) -> dict[str, str]:
    return {"principalId": FUNC_MI_ID, "resourceId": GRAPH_SP_ID, "appRoleId": GRAPH_APP_ROLE_IDS[role]}


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    server = TestServer(create_app(users="demo"), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
def graph_url(server: TestServer) -> str:
    return str(server.make_url("/v1.0"))


@pytest.fixture
async def control(server: TestServer) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(str(server.make_url(""))) as control:
        # The admin running the script holds what Graph documents for granting app roles.
        await control.set_permissions(ADMIN_ROLES)
        yield control


async def run(graph_url: str, *args: str) -> int:
    return await grant.run([*args, "--graph-url", graph_url])


async def posts(control: EmulatorControl) -> list:
    return await control.journal(method="POST")


async def test_grants_both_roles_and_says_so(control, graph_url, capsys):
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    sent = await posts(control)
    assert [(e.path, e.body, e.status) for e in sent] == [
        (GRANTS_PATH, grant_body("Presence.ReadWrite.All"), 201),
        (GRANTS_PATH, grant_body("User.ReadBasic.All"), 201),
    ]
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"identity: {FUNC_MI_NAME} ({FUNC_MI_ID}); Microsoft Graph: {GRAPH_SP_ID}",
        "Presence.ReadWrite.All: granted",
        "User.ReadBasic.All: granted",
    ]
    held = {a["appRoleValue"] for a in await control.app_role_assignments(principal_id=FUNC_MI_ID)}
    assert held == {"Presence.ReadWrite.All", "User.ReadBasic.All"}


async def test_the_reads_are_the_documented_ones(control, graph_url):
    await run(graph_url, "--principal-id", FUNC_MI_ID)
    reads = [(e.path, e.query) for e in await control.journal(method="GET")]
    assert reads == [
        ("/v1.0/servicePrincipals", {"$filter": f"appId eq '{GRAPH_APP_ID}'", "$select": "id,appRoles"}),
        (f"/v1.0/servicePrincipals/{FUNC_MI_ID}", {"$select": "id,displayName"}),
        (f"/v1.0/servicePrincipals/{FUNC_MI_ID}/appRoleAssignments", {}),
    ]


async def test_running_again_grants_nothing(control, graph_url, capsys):
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    await control.clear_journal()
    capsys.readouterr()
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    assert await posts(control) == []
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "Presence.ReadWrite.All: already granted",
        "User.ReadBasic.All: already granted",
    ]


async def test_a_role_granted_elsewhere_is_left_alone(control, graph_url, capsys):
    await control.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, GRAPH_APP_ROLE_IDS["Presence.ReadWrite.All"])
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    assert [e.body for e in await posts(control)] == [grant_body("User.ReadBasic.All")]
    out = capsys.readouterr().out
    assert "Presence.ReadWrite.All: already granted" in out
    assert "User.ReadBasic.All: granted" in out


async def test_graphs_already_exists_answer_counts_as_granted(control, graph_url, capsys):
    # Granted between the script's read and its POST: Graph answers the POST with its 400.
    await control.fault(
        "*/appRoleAssignedTo",
        400,
        method="POST",
        code="Request_BadRequest",
        message="Permission being assigned already exists on the object.",
    )
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    out = capsys.readouterr().out
    assert "Presence.ReadWrite.All: already granted" in out
    assert "User.ReadBasic.All: granted" in out


async def test_with_groups_adds_group_member_read_all(control, graph_url, capsys):
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 0
    await control.clear_journal()
    assert await run(graph_url, "--principal-id", FUNC_MI_ID, "--with-groups") == 0
    assert [e.body for e in await posts(control)] == [grant_body("GroupMember.Read.All")]
    assert capsys.readouterr().out.splitlines()[-1] == "GroupMember.Read.All: granted"


async def test_the_identity_is_found_by_the_app_name(control, graph_url):
    assert await run(graph_url, "--app-name", FUNC_MI_NAME) == 0
    by_name = (await control.journal(method="GET"))[1]
    assert (by_name.path, by_name.query) == (
        "/v1.0/servicePrincipals",
        {"$filter": f"displayName eq '{FUNC_MI_NAME}'", "$select": "id,displayName,servicePrincipalType"},
    )
    assert [e.body for e in await posts(control)] == [
        grant_body("Presence.ReadWrite.All"),
        grant_body("User.ReadBasic.All"),
    ]


async def test_the_user_assigned_identity_is_found_by_its_name(control, graph_url):
    # infra/ creates the identity before the app (id-api-<token>); its service principal is a
    # ManagedIdentity named like the identity, not like the app.
    [identity] = await control.seed_service_principals([{"displayName": "id-api-abc123"}])
    # an app registration of the same name (App Service Authentication's, say) is never the one granted
    await control.seed_service_principals(
        [{"displayName": "id-api-abc123", "servicePrincipalType": "Application"}]
    )
    assert await run(graph_url, "--identity-name", "id-api-abc123") == 0
    granted = [e.body for e in await posts(control)]
    assert {body["principalId"] for body in granted} == {identity["id"]}
    assert [body["appRoleId"] for body in granted] == [
        GRAPH_APP_ROLE_IDS["Presence.ReadWrite.All"],
        GRAPH_APP_ROLE_IDS["User.ReadBasic.All"],
    ]
    assert identity["id"] != FUNC_MI_ID


async def test_dry_run_prints_the_exact_calls_and_makes_no_write(control, graph_url, capsys):
    await control.grant_app_role(FUNC_MI_ID, GRAPH_SP_ID, GRAPH_APP_ROLE_IDS["User.ReadBasic.All"])
    assert await run(graph_url, "--principal-id", FUNC_MI_ID, "--with-groups", "--dry-run") == 0
    assert await posts(control) == []
    assert len(await control.app_role_assignments()) == 1  # only the one granted before
    url = f"{graph_url}/servicePrincipals/{GRAPH_SP_ID}/appRoleAssignedTo"
    graph_sp = f"{graph_url}/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'&$select=id,appRoles"
    identity = f"{graph_url}/servicePrincipals/{FUNC_MI_ID}"
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"read: GET {graph_sp}",
        f"read: GET {identity}?$select=id,displayName",
        f"read: GET {identity}/appRoleAssignments",
        "User.ReadBasic.All: already granted",
        f"Presence.ReadWrite.All: would call POST {url} {json.dumps(grant_body('Presence.ReadWrite.All'))}",
        f"GroupMember.Read.All: would call POST {url} {json.dumps(grant_body('GroupMember.Read.All'))}",
        "dry run: nothing was changed",
    ]


async def test_an_unknown_principal_id_fails_without_a_write(control, graph_url, capsys):
    missing = str(uuid.uuid4())
    assert await run(graph_url, "--principal-id", missing) == 1
    assert await posts(control) == []
    assert f"no service principal with object id {missing}" in capsys.readouterr().err


async def test_an_unknown_app_name_fails_without_a_write(control, graph_url, capsys):
    assert await run(graph_url, "--app-name", "func-nobody") == 1
    assert await posts(control) == []
    assert "no managed identity named 'func-nobody'" in capsys.readouterr().err


async def test_two_identities_with_the_name_fail_without_a_write(control, graph_url, capsys):
    # Graph does not keep display names unique.
    await control.seed_service_principals([{"displayName": FUNC_MI_NAME}])
    assert await run(graph_url, "--app-name", FUNC_MI_NAME) == 1
    assert await posts(control) == []
    assert "pass --principal-id" in capsys.readouterr().err


async def test_without_the_right_to_grant_it_fails_with_graphs_message(control, graph_url, capsys):
    await control.set_permissions(["Application.Read.All"])
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 1
    err = capsys.readouterr().err
    assert "403 Authorization_RequestDenied: Insufficient privileges to complete the operation." in err
    assert "AppRoleAssignment.ReadWrite.All and Application.Read.All" in err
    assert [e.status for e in await posts(control)] == [403]  # it stops at the first refusal
    assert await control.app_role_assignments() == []


async def test_without_the_right_to_read_it_fails_before_any_write(control, graph_url, capsys):
    await control.set_permissions(["AppRoleAssignment.ReadWrite.All"])
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 1
    assert await posts(control) == []
    assert "Insufficient privileges to complete the operation." in capsys.readouterr().err


async def test_a_graph_failure_mid_way_is_reported(control, graph_url, capsys):
    await control.fault("*/appRoleAssignedTo", 503, method="POST", count=1)
    assert await run(graph_url, "--principal-id", FUNC_MI_ID) == 1
    assert "503 ServiceUnavailable" in capsys.readouterr().err


async def test_a_role_microsoft_graph_does_not_define_fails_before_any_write(
    control, graph_url, capsys, monkeypatch
):
    monkeypatch.setattr(grant, "GROUP_ROLE", "GroupMember.Read.Everything")
    assert await run(graph_url, "--principal-id", FUNC_MI_ID, "--with-groups") == 1
    assert await posts(control) == []
    assert "no application permission GroupMember.Read.Everything" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--principal-id", FUNC_MI_ID, "--graph-url", "http://graph.example.com/v1.0"],  # http off loopback
        ["--principal-id", "func-presence-demo"],  # not an object id
        ["--principal-id", FUNC_MI_ID, "--app-name", FUNC_MI_NAME],  # one or the other
        [],
    ],
)
async def test_usage_errors_exit_2(args, capsys):
    assert await grant.run(args) == 2
    assert "usage:" in capsys.readouterr().err


def test_the_filter_goes_percent_encoded_and_is_printed_as_written():
    call = grant.Call(
        "GET",
        "https://graph.microsoft.com/v1.0",
        "/servicePrincipals",
        (("$filter", "displayName eq 'a b&c'"),),
    )
    assert (
        str(call) == "GET https://graph.microsoft.com/v1.0/servicePrincipals?$filter=displayName eq 'a b&c'"
    )
    assert call.wire_url.raw_query_string == "$filter=displayName%20eq%20'a%20b%26c'"


async def test_the_wrapper_runs_from_the_repo(control, graph_url):
    process = await asyncio.create_subprocess_exec(
        str(REPO / "scripts" / "grant-graph-permissions"),
        "--app-name",
        FUNC_MI_NAME,
        "--dry-run",
        "--graph-url",
        graph_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd="/",
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines()[-1] == "dry run: nothing was changed"
    assert await posts(control) == []


async def test_an_app_registration_of_the_same_name_is_never_granted(control, graph_url, capsys):
    """--app-name looks for a managed identity only: the App Service Authentication registration is often
    named like the Function App."""
    await control.seed_service_principals(
        [{"displayName": "func-lookalike", "servicePrincipalType": "Application"}]
    )
    await control.clear_journal()
    assert await run(graph_url, "--app-name", "func-lookalike") == 1
    assert await posts(control) == []
    assert "no managed identity named 'func-lookalike'" in capsys.readouterr().err
