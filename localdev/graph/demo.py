"""The demo directory (`--users demo`): fixed, well-known object ids that tests and the README may use.

| userPrincipalName  | object id                            |
| ------------------ | ------------------------------------ |
| alice@contoso.test | a11ce000-0000-4000-8000-000000000001 |
| bob@contoso.test   | b0b00000-0000-4000-8000-000000000002 |
| carol@contoso.test | ca201000-0000-4000-8000-000000000003 |
| dave@contoso.test  | da7e0000-0000-4000-8000-000000000004 |

Groups: "Support team" (`SUPPORT_GROUP_ID`), whose members are alice, bob and carol (not dave), so a demo run
can watch a group.

Service principals: Microsoft Graph's (`GRAPH_SP_ID`, in every tenant, even without demo users) and, with
the demo users, the Function App's system-assigned managed identity (`FUNC_MI_ID`, displayName
`FUNC_MI_NAME`; its appId is the emulator's app id), which holds no app role until one is granted.
"""

from __future__ import annotations

from dataclasses import dataclass

ALICE_ID = "a11ce000-0000-4000-8000-000000000001"
BOB_ID = "b0b00000-0000-4000-8000-000000000002"
CAROL_ID = "ca201000-0000-4000-8000-000000000003"
DAVE_ID = "da7e0000-0000-4000-8000-000000000004"

GRAPH_SP_ID = "9a9e0000-0000-4000-8000-00000000a001"  # Microsoft Graph's service principal in this tenant
FUNC_MI_ID = "f0c00000-0000-4000-8000-00000000b001"  # the demo Function App's managed identity
FUNC_MI_NAME = "func-presence-demo"

SUPPORT_GROUP_ID = "5e770000-0000-4000-8000-00000000c001"  # "Support team": alice, bob and carol
SUPPORT_GROUP_NAME = "Support team"


@dataclass(frozen=True)
class DemoUser:
    id: str
    user_principal_name: str
    display_name: str
    aliases: tuple[str, ...] = ()  # more e-mail addresses (proxyAddresses), none of them a UPN


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(ALICE_ID, "alice@contoso.test", "Alice Adams", ("alice.adams@contoso.test",)),
    DemoUser(BOB_ID, "bob@contoso.test", "Bob Brown"),
    DemoUser(CAROL_ID, "carol@contoso.test", "Carol Clark"),
    DemoUser(DAVE_ID, "dave@contoso.test", "Dave Davis"),
)


@dataclass(frozen=True)
class DemoGroup:
    id: str
    display_name: str
    members: tuple[str, ...]


DEMO_GROUPS: tuple[DemoGroup, ...] = (
    DemoGroup(SUPPORT_GROUP_ID, SUPPORT_GROUP_NAME, (ALICE_ID, BOB_ID, CAROL_ID)),
)
