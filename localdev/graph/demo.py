"""The demo directory (`--users demo`): fixed, well-known object ids that tests and the README may use.

| userPrincipalName  | object id                            |
| ------------------ | ------------------------------------ |
| alice@contoso.test | a11ce000-0000-4000-8000-000000000001 |
| bob@contoso.test   | b0b00000-0000-4000-8000-000000000002 |
| carol@contoso.test | ca201000-0000-4000-8000-000000000003 |
| dave@contoso.test  | da7e0000-0000-4000-8000-000000000004 |
"""

from __future__ import annotations

from dataclasses import dataclass

ALICE_ID = "a11ce000-0000-4000-8000-000000000001"
BOB_ID = "b0b00000-0000-4000-8000-000000000002"
CAROL_ID = "ca201000-0000-4000-8000-000000000003"
DAVE_ID = "da7e0000-0000-4000-8000-000000000004"


@dataclass(frozen=True)
class DemoUser:
    id: str
    user_principal_name: str
    display_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(ALICE_ID, "alice@contoso.test", "Alice Adams"),
    DemoUser(BOB_ID, "bob@contoso.test", "Bob Brown"),
    DemoUser(CAROL_ID, "carol@contoso.test", "Carol Clark"),
    DemoUser(DAVE_ID, "dave@contoso.test", "Dave Davis"),
)
