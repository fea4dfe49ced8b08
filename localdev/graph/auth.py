"""Who is calling (the bearer token's claims, not signature-checked) and what the tenant lets them do."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import Enum

from localdev.graph.errors import insufficient_privileges, invalid_token

# The app roles granted to the caller by default: what the service needs in a real tenant
# (GroupMember.Read.All for group watches, which expand a group into its member users).
DEFAULT_ROLES: frozenset[str] = frozenset(
    {"Presence.ReadWrite.All", "User.ReadBasic.All", "GroupMember.Read.All"}
)


class Permission(Enum):
    """What a route needs; each is satisfied by any of the roles Graph documents for it."""

    READ_PRESENCE = frozenset({"Presence.Read.All", "Presence.ReadWrite.All"})
    WRITE_PRESENCE = frozenset({"Presence.ReadWrite.All"})
    READ_USER = frozenset(
        {
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    )
    # Service principals and the app roles granted to them (Graph documents these for both delegated and
    # application callers; a grant needs AppRoleAssignment.ReadWrite.All and READ_APPLICATIONS).
    READ_APPLICATIONS = frozenset(
        {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    )
    WRITE_APP_ROLE_ASSIGNMENTS = frozenset({"AppRoleAssignment.ReadWrite.All"})
    # A group's members and transitive members (Graph: GroupMember.Read.All, least privileged). Reading the
    # member users' properties needs READ_USER as well; without it Graph returns each user's id only.
    READ_GROUP_MEMBERS = frozenset(
        {
            "GroupMember.Read.All",
            "GroupMember.ReadWrite.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    )


@dataclass(frozen=True)
class Caller:
    app_id: str  # the appid (v1) or azp (v2) claim
    user_id: str | None  # the signed-in user's object id for a delegated token, None app-only

    def is_user(self, user_id: str) -> bool:
        """Graph shows statusMessage expiry to the user themselves, not to an app reading another user."""
        return self.user_id is not None and self.user_id.lower() == user_id.lower()


def authenticate(authorization: str | None) -> Caller:
    """The caller from `Authorization: Bearer <jwt>`; 401 InvalidAuthenticationToken if missing or bad."""
    if not authorization:
        raise invalid_token("Access token is empty.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token("Access token is empty.")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise invalid_token("IDX14100: JWT is not well formed, there are no dots (.) or not three parts.")
    header, payload = (_json_part(p) for p in parts[:2])
    if header is None or payload is None or not _is_base64url(parts[2]):
        raise invalid_token("IDX14102: Unable to decode the header or payload of the JWT as Base64Url JSON.")
    app_id = payload.get("appid") or payload.get("azp")
    if not isinstance(app_id, str) or not app_id:
        raise invalid_token("Access token validation failure: the token carries no appid or azp claim.")
    # A delegated token carries scp and the user's oid; an app-only token (idtyp app, or no scp) reads
    # every user as "another user". The oid of an app-only token is its service principal's, never a user's.
    delegated = "scp" in payload and payload.get("idtyp") != "app"
    oid = payload.get("oid")
    return Caller(app_id=app_id, user_id=oid if delegated and isinstance(oid, str) else None)


def authorize(roles: frozenset[str], needed: Permission) -> None:
    if not roles & needed.value:
        raise insufficient_privileges()


def _is_base64url(part: str) -> bool:
    try:
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return False
    return all(c.isalnum() or c in "-_" for c in part)


def _json_part(part: str) -> dict | None:
    if not part or not _is_base64url(part):
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
