"""Microsoft Graph's own service principal, as every tenant holds it: its well-known appId and some of the
app roles (application permissions) it defines, with their real ids.

The ids are Microsoft's, the same in every tenant (the Microsoft Graph permissions reference lists them, and
`GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=appRoles` returns them). The
service principal's own object id differs per tenant; the emulator's is `demo.GRAPH_SP_ID`.
"""

from __future__ import annotations

from localdev.graph.state import AppRole, ServicePrincipal

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# value -> id, for the roles the emulator's Graph service principal defines.
GRAPH_APP_ROLE_IDS: dict[str, str] = {
    "Presence.ReadWrite.All": "83cded22-8297-4ff6-a7fa-e97e9545a259",
    "Presence.Read.All": "a70e0c2d-e793-494c-94c4-118fa0a67f42",
    "User.ReadBasic.All": "97235f07-e226-4f63-ace3-39588e11d3a1",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
}

_DISPLAY_NAMES: dict[str, str] = {
    "Presence.ReadWrite.All": "Read and write presence information for all users",
    "Presence.Read.All": "Read presence information for all users",
    "User.ReadBasic.All": "Read all users' basic profiles",
    "User.Read.All": "Read all users' full profiles",
    "GroupMember.Read.All": "Read all group memberships",
    "Directory.Read.All": "Read directory data",
    "Application.Read.All": "Read all applications",
}


def microsoft_graph_service_principal(object_id: str) -> ServicePrincipal:
    roles = tuple(
        AppRole(
            id=role_id,
            value=value,
            display_name=_DISPLAY_NAMES[value],
            description=f"Allows the app to {_DISPLAY_NAMES[value].lower()} without a signed-in user.",
        )
        for value, role_id in GRAPH_APP_ROLE_IDS.items()
    )
    return ServicePrincipal(
        id=object_id,
        app_id=GRAPH_APP_ID,
        display_name="Microsoft Graph",
        service_principal_type="Application",
        app_roles=roles,
    )
