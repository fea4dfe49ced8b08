"""Who is calling, and what they may do: every decision of the API is made here, before any Graph
call or write."""

# `CALLER_AUTH=function-key`: the Functions host has checked the key; the caller may do everything.
# `CALLER_AUTH=entra`: App Service Authentication validated an Entra token and passes its claims in
# `X-MS-CLIENT-PRINCIPAL` (base64 JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`). Denied by
# default: app role `Presence.ReadWrite.All` may do everything; `Presence.Read.All` may read any user and
# any schedule; a signed-in user (a delegated token) may read and change their own presence and
# schedules; anything else is 403. A missing or malformed principal is 401. A watch is its maker's, and the
# audit trail is for callers who may change everyone's presence (see the decisions at the end).

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared.api.operations import Access, Operation
from shared.directory.ids import UserRef, is_user_id, parse_user
from shared.directory.service import UserDirectory
from shared.platform.config import Settings
from shared.platform.errors import (
    FORBIDDEN,
    PRECONDITION_FAILED,
    UNAUTHENTICATED,
    ServiceError,
    watch_not_found,
)

if TYPE_CHECKING:
    from shared.app import Services

log = logging.getLogger(__name__)

PRINCIPAL_HEADER = "x-ms-client-principal"
ROLE_READ_WRITE = "Presence.ReadWrite.All"
ROLE_READ = "Presence.Read.All"
_MAX_PRINCIPAL = 64 * 1024  # App Service passes at most a token's worth of claims

# Claim types as App Service passes them: short names (v2 tokens, mapped or not) or the long URIs of the
# .NET claim mapping. Each entry: every spelling of one claim.
_ROLES = ("roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_ROLE_TYPES = frozenset(_ROLES)
_SCOPES = ("scp", "http://schemas.microsoft.com/identity/claims/scope")
_OBJECT_ID = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
_TENANT = ("tid", "http://schemas.microsoft.com/identity/claims/tenantid")
_APP_ID = ("azp", "appid")
_AUDIENCE = ("aud",)
_TOKEN_KIND = ("idtyp",)
_UPN = (
    "preferred_username",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "unique_name",
)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and what it may do."""

    name: str  # what the audit trail records: "function-key", "app:<client id>" or "user:<object id>"
    roles: frozenset[str] = frozenset()
    user_id: str | None = None  # a signed-in user's own object id (delegated tokens only)
    upn: str | None = None  # a signed-in user's own UPN, lower-case, when the token carries one
    everything: bool = False  # function-key mode

    def unrestricted(self, access: Access) -> bool:
        """May act on any user (and, for audit, read the trail)?"""
        if self.everything or ROLE_READ_WRITE in self.roles:
            return True
        return access == "read" and ROLE_READ in self.roles

    def is_self(self, user: UserRef) -> bool:
        if self.user_id is None:
            return False
        if user.is_id:
            return user.normalized == self.user_id
        return self.upn is not None and user.normalized == self.upn

    def require(self, access: Access, users: Iterable[UserRef] = ()) -> None:
        """403 unless the caller may `access` every one of `users` (none: any user; audit: the trail)."""
        if self.unrestricted(access):
            return
        users = list(users)
        if access != "audit" and self.user_id is not None and users:
            strangers = [u for u in users if not self.is_self(u)]
            if not strangers:
                return
            raise FORBIDDEN(
                f"You may only {_verb(access)} your own presence and schedules.", extensions={"field": "user"}
            )
        role = ROLE_READ_WRITE if access != "read" else f"{ROLE_READ} or {ROLE_READ_WRITE}"
        raise FORBIDDEN(f"This needs the app role {role}.")


def _verb(access: Access) -> str:
    return "read" if access == "read" else "change"


FUNCTION_KEY_CALLER = Caller("function-key", everything=True)


async def authorize(req: func.HttpRequest, op: Operation, services: Services) -> Caller:
    """The caller of `req`, checked for `op` on the user in its path (if any); 401/403 otherwise. Other
    targets (a body's users, a stored schedule's user) are checked by the handler with `permit`. A caller
    that may do nothing at all is refused here, before its request is even read."""
    caller = authenticate(req, services.settings)
    if not (caller.everything or caller.user_id or caller.roles & {ROLE_READ, ROLE_READ_WRITE}):
        caller.require(op.access)  # a 403 naming the role it lacks
    if "user" in req.route_params:
        await permit(caller, op.access, [parse_user(req.route_params["user"])], services.directory)
    return caller


async def permit(caller: Caller, access: Access, users: list[UserRef], directory: UserDirectory) -> None:
    """`Caller.require`, and for a signed-in user naming herself by UPN, that the UPN is hers now: a UPN
    can be given to somebody else (the token's claim is only a hint), an object id cannot. That lookup is
    the only Graph call before a refusal, a directory read, and only for the caller's own UPN."""
    caller.require(access, users)
    if caller.unrestricted(access):
        return
    # Each distinct UPN once (case-insensitive): a request naming her UPN 10,000 times is one lookup.
    for user in {u.normalized: u for u in users if not u.is_id}.values():
        if await directory.resolve(user) != caller.user_id:
            raise FORBIDDEN("This UPN is not yours; use your object id.")


def authenticate(req: func.HttpRequest, config: Settings) -> Caller:
    if config.caller_auth == "function-key":
        return FUNCTION_KEY_CALLER
    header = req.headers.get(PRINCIPAL_HEADER)
    if not header:
        raise _unauthenticated("Sign in with Microsoft Entra ID to call this API.")
    return caller_from_principal(header, config)


def caller_from_principal(header: str, config: Settings) -> Caller:
    claims = _claims(header)
    tenants = {t.lower() for t in _all(claims, _TENANT)}
    if tenants != {config.entra_tenant_id}:
        raise _unauthenticated("The token was issued for another tenant.")
    audiences = set(_all(claims, _AUDIENCE))
    if not audiences or not audiences <= set(config.entra_audiences):
        raise _unauthenticated("The token was issued for another audience.")
    roles = frozenset(_all(claims, _ROLES))
    scopes = " ".join(_all(claims, _SCOPES)).split()
    kind = (_one(claims, _TOKEN_KIND) or "").lower()
    object_id = (_one(claims, _OBJECT_ID) or "").lower() or None
    delegated = kind == "user" or (kind != "app" and bool(scopes))
    if delegated and object_id is not None:
        if not is_user_id(object_id):
            raise _unauthenticated("The principal's object id is not a GUID.")
        upn = _one(claims, _UPN)
        return Caller(f"user:{object_id}", roles, object_id, upn.lower() if upn else None)
    app_id = _one(claims, _APP_ID) or object_id or "unknown"
    return Caller(f"app:{app_id[:64]}", roles)


def _claims(header: str) -> dict[str, list[str]]:
    """The principal's claims by type (lower-case), with the role claim type it names folded into roles.
    Anything that is not the documented shape is a 401 (never a 500)."""
    if len(header) > _MAX_PRINCIPAL:
        raise _unauthenticated("The client principal is too large.")
    try:
        text = header.strip().replace("-", "+").replace("_", "/")  # base64url too
        document: Any = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _unauthenticated("The client principal is not base64 JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise _unauthenticated("The client principal has no claims.")
    if str(document.get("auth_typ", "")).lower() != "aad":
        raise _unauthenticated("The client principal is not from Microsoft Entra ID.")
    # role_typ names the claim type App Service put the roles in. Only the role claim types ever count,
    # whatever role_typ says (honouring another, say "scp", "oid" or a missing role_typ read as "none",
    # would let a claim of that kind pass as a role).
    claims: dict[str, list[str]] = {}
    for claim in document["claims"]:
        if not isinstance(claim, dict) or not isinstance(claim.get("typ"), str):
            raise _unauthenticated("A claim of the client principal is malformed.")
        value = claim.get("val")
        if not isinstance(value, str):
            raise _unauthenticated("A claim of the client principal is malformed.")
        kind = claim["typ"].lower()
        if kind in _ROLE_TYPES:
            claims.setdefault("roles", []).extend(_values(value))  # a JSON array only here
        else:
            claims.setdefault(kind, []).append(value)
    return claims


def _values(value: str) -> list[str]:
    """One role, or several when a proxy passed the multi-valued claim as a JSON array."""
    if value.startswith("["):
        try:
            values = json.loads(value)
        except (ValueError, RecursionError):
            return [value]
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            return values
    return [value]


def _all(claims: dict[str, list[str]], kinds: tuple[str, ...]) -> list[str]:
    return [value for kind in kinds for value in claims.get(kind.lower(), [])]


def _one(claims: dict[str, list[str]], kinds: tuple[str, ...]) -> str | None:
    values = _all(claims, kinds)
    return values[0] if values else None


def _unauthenticated(detail: str) -> ServiceError:
    return UNAUTHENTICATED(detail, headers={"WWW-Authenticate": "Bearer"})


# --- what a request names beyond its path: stored schedules and watches, the audit trail ------------------
# Each decision is pure (the caller and the thing asked about -> allowed, or the catalog's error); the async
# ones only fetch what a decision needs (a stored schedule, whose a UPN is). Handlers ask, one line each.


def may_read_audit(caller: Caller) -> None:
    """The audit trail is for callers who may change everyone's presence (a function key, the app role
    Presence.ReadWrite.All); a signed-in user does not read it, not even about herself."""
    caller.require("audit")


def schedule_list_user(caller: Caller, user: str | None) -> str | None:
    """Whose schedules a list shows: the user asked for; when none is named, everyone's (None) for a caller
    who may read any user, else the signed-in user's own (and None, refused by `permit`, for anyone else)."""
    if user is not None or caller.unrestricted("read"):
        return user
    return caller.user_id


async def permit_schedule_list(caller: Caller, user: str | None, directory: UserDirectory) -> str | None:
    """`schedule_list_user`, checked: the user whose schedules the list may show (None: everyone's)."""
    listed = schedule_list_user(caller, user)
    await permit(caller, "read", [parse_user(listed)] if listed is not None else [], directory)
    return listed


async def permit_schedule_read(caller: Caller, schedule_user_id: str, directory: UserDirectory) -> None:
    """A schedule is readable by whoever may read its user."""
    await permit(caller, "read", [parse_user(schedule_user_id)], directory)


def pinned_version(etag: str, if_match: str | None) -> str:
    """The version a limited caller's change applies to: the one whose user the check saw (its ETag), so a
    schedule moved to somebody else in between is not changed. An If-Match naming another is a 412."""
    if if_match not in {None, "*", etag}:
        raise PRECONDITION_FAILED("The schedule changed since you read it (If-Match).")
    return etag


async def permit_schedule_change(
    caller: Caller, schedule_id: str, moved_to: list[UserRef], if_match: str | None, services: Services
) -> str | None:
    """A change to a schedule: its user, and any user it is moved to, must be the caller's to change. The
    answer is the If-Match to change it with: the caller's own for one who may change every user (nothing
    read), else `pinned_version`."""
    if caller.unrestricted("write"):
        return if_match
    schedule, etag = await services.schedules.get(schedule_id)
    await permit(caller, "write", [parse_user(schedule.user_id), *moved_to], services.directory)
    return pinned_version(etag, if_match)


def may_watch_group(caller: Caller) -> None:
    """A group's members are not known up front: only a caller who may read any user watches a group."""
    caller.require("read")


async def permit_watch_targets(
    caller: Caller, targets: list[UserRef] | str, directory: UserDirectory
) -> None:
    """A watch's users must all be readable by its maker; a group (its object id), see `may_watch_group`."""
    if isinstance(targets, str):
        may_watch_group(caller)
    else:
        await permit(caller, "read", targets, directory)


def watch_limit(caller: Caller, per_user: int) -> int | None:
    """How many watches the caller may have: MAX_WATCHES_PER_USER for a signed-in user (who may watch only
    herself); None (not counted) for apps and function keys, whose watches are a tenant's flows."""
    return None if caller.unrestricted("read") else per_user


def watches_listed_for(caller: Caller) -> str | None:
    """Whose watches a list shows: everyone's (None) for a caller who may read any user, else her own."""
    return None if caller.unrestricted("read") else caller.name


def may_use_watch(caller: Caller, created_by: str, change: bool = False) -> None:
    """A watch is its maker's. Others see it if they may read every user, and change or stop it only if
    they may change every user's presence (an admin's app); to anyone else it is a 404 (a watch id says
    nothing about whether it exists)."""
    if created_by != caller.name and not caller.unrestricted("write" if change else "read"):
        raise watch_not_found()
