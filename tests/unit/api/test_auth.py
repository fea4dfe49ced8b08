"""Who the caller is, from App Service Authentication's principal header, and what they may do."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from shared.api.auth import (
    ROLE_READ,
    ROLE_READ_WRITE,
    Caller,
    caller_from_principal,
    may_read_audit,
    may_use_watch,
    may_watch_group,
    permit_schedule_change,
    permit_schedule_list,
    permit_schedule_read,
    permit_watch_targets,
    pinned_version,
    schedule_list_user,
    watch_limit,
    watches_listed_for,
)
from shared.directory.ids import UserRef, parse_user
from shared.platform.config import Settings, SettingsError
from shared.platform.errors import ServiceError

ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
TENANT = "7e4a0000-0000-4000-8000-0000000000aa"
APP = "c11e4700-0000-4000-8000-0000000000bb"
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
SCOPE_URI = "http://schemas.microsoft.com/identity/claims/scope"
OID_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"
CUSTOM = "http://custom/role"
ISSUED = [("http://schemas.microsoft.com/identity/claims/tenantid", TENANT), ("aud", "api://presence")]


def entra(**env: str) -> Settings:
    return Settings.from_env(
        {
            "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "CALLER_AUTH": "entra",
            "WEBSITE_AUTH_ENABLED": "true",
            "ENTRA_TENANT_ID": TENANT,
            "ENTRA_AUDIENCES": "api://presence",
            **env,
        }
    )


def principal(claims: list[tuple[str, str]], **extra: object) -> str:
    document = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims], **extra}
    return base64.b64encode(json.dumps(document).encode()).decode()


def app_token(*roles: str, role_type: str = "roles") -> list[tuple[str, str]]:
    return [("aud", "api://presence"), ("tid", TENANT), ("azp", APP), ("oid", BOB), ("idtyp", "app")] + [
        (role_type, r) for r in roles
    ]


def user_token(oid: str = ALICE, **short: str) -> list[tuple[str, str]]:
    claims = {"aud": "api://presence", "tid": TENANT, "scp": "user_impersonation", "oid": oid, **short}
    return list(claims.items())


@pytest.mark.parametrize(
    ("claims", "extra", "roles"),
    [
        (app_token(ROLE_READ_WRITE), {}, {ROLE_READ_WRITE}),
        (app_token(ROLE_READ_WRITE, role_type=ROLE_URI), {}, {ROLE_READ_WRITE}),
        (app_token(ROLE_READ, role_type=ROLE_URI), {"role_typ": ROLE_URI}, {ROLE_READ}),
        (app_token(json.dumps([ROLE_READ, ROLE_READ_WRITE])), {}, {ROLE_READ, ROLE_READ_WRITE}),
        (app_token(ROLE_READ, ROLE_READ_WRITE), {}, {ROLE_READ, ROLE_READ_WRITE}),
    ],
    ids=["short", "uri", "role_typ", "json-array", "several"],
)
def test_app_roles_are_read_in_every_spelling(claims, extra, roles):
    caller = caller_from_principal(principal(claims, **extra), entra())
    assert caller.roles == roles
    assert caller.name == f"app:{APP}"
    assert caller.user_id is None  # an app's oid is its service principal, never a user


@pytest.mark.parametrize(
    "claims",
    [
        user_token(preferred_username="Alice@Contoso.test"),
        [(SCOPE_URI, "user_impersonation"), (OID_URI, ALICE.upper()), ("upn", "alice@contoso.test"), *ISSUED],
        user_token(idtyp="user", scp="", preferred_username="alice@contoso.test"),
    ],
    ids=["short", "uri", "idtyp"],
)
def test_a_signed_in_user_is_known_by_object_id_and_upn(claims):
    caller = caller_from_principal(principal(claims), entra())
    assert (caller.name, caller.user_id, caller.upn) == (f"user:{ALICE}", ALICE, "alice@contoso.test")


@pytest.mark.parametrize(
    "header",
    [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[]").decode(),
        base64.b64encode(json.dumps({"claims": "none"}).encode()).decode(),
        base64.b64encode(json.dumps({"claims": [{"typ": 1, "val": "x"}]}).encode()).decode(),
        base64.b64encode(json.dumps({"claims": [{"typ": "oid", "val": None}]}).encode()).decode(),
        principal([("scp", "x"), ("oid", "not-a-guid")]),
        "A" * 70_000,
        base64.b64encode(b"[" * 5000).decode(),
        principal(user_token(), auth_typ="google"),
    ],
    ids=[
        "not-base64",
        "not-json",
        "not-object",
        "no-claims",
        "typ-str",
        "val-str",
        "oid",
        "huge",
        "deep",
        "idp",
    ],
)
def test_a_malformed_principal_is_401_not_500(header):
    with pytest.raises(ServiceError) as refused:
        caller_from_principal(header, entra())
    assert (refused.value.status, refused.value.code) == (401, "unauthenticated")


def test_base64url_without_padding_is_accepted():
    header = principal(user_token()).rstrip("=").replace("+", "-").replace("/", "_")
    assert caller_from_principal(header, entra()).user_id == ALICE


@pytest.mark.parametrize(
    ("env", "claims"),
    [
        ({"ENTRA_TENANT_ID": "00000000-0000-4000-8000-000000000000"}, user_token()),
        ({"ENTRA_AUDIENCES": "api://other,1234"}, user_token()),
        ({}, [("scp", "x"), ("oid", ALICE), ("aud", "api://presence")]),  # no tid claim at all
        ({}, [*user_token(), ("tid", "00000000-0000-4000-8000-000000000000")]),  # two tenants
        ({}, [*user_token(), ("aud", "api://other")]),  # two audiences
        ({}, [("scp", "x"), ("oid", ALICE), ("tid", TENANT)]),  # no aud claim
    ],
    ids=["tenant", "audience", "no-tenant", "two-tenants", "two-audiences", "no-audience"],
)
def test_another_tenant_or_audience_is_401(env, claims):
    with pytest.raises(ServiceError) as refused:
        caller_from_principal(principal(claims), entra(**env))
    assert refused.value.status == 401


def test_role_typ_cannot_turn_another_claim_into_a_role():
    claims = [*user_token(), ("scp", ROLE_READ_WRITE)]
    caller = caller_from_principal(principal(claims, role_typ="scp"), entra())
    assert caller.roles == frozenset()
    assert caller.user_id == ALICE


@pytest.mark.parametrize("role_typ", [None, "missing", "none", 7])
def test_a_claim_typed_none_is_no_role_whatever_role_typ_says(role_typ):
    claims = [*user_token(), ("none", ROLE_READ_WRITE), ("None", ROLE_READ)]
    extra = {} if role_typ == "missing" else {"role_typ": role_typ}
    caller = caller_from_principal(principal(claims, **extra), entra())
    assert caller.roles == frozenset()
    assert not caller.unrestricted("write")


def test_a_custom_role_claim_type_is_not_trusted():
    caller = caller_from_principal(
        principal(app_token(ROLE_READ, role_type=CUSTOM), role_typ=CUSTOM), entra()
    )
    assert caller.roles == frozenset()


def test_entra_mode_needs_the_tenant_and_audiences():
    base = {"TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "CALLER_AUTH": "entra"}
    with pytest.raises(SettingsError, match="WEBSITE_AUTH_ENABLED"):
        Settings.from_env(base)
    with pytest.raises(SettingsError, match="ENTRA_TENANT_ID and ENTRA_AUDIENCES"):
        Settings.from_env({**base, "WEBSITE_AUTH_ENABLED": "true", "ENTRA_TENANT_ID": TENANT})


def test_the_configured_tenant_and_audience_pass():
    env = {"ENTRA_TENANT_ID": TENANT.upper(), "ENTRA_AUDIENCES": "api://other, api://presence"}
    assert caller_from_principal(principal(user_token()), entra(**env)).user_id == ALICE


SELF_ID, SELF_UPN = parse_user(ALICE), parse_user("ALICE@contoso.test")
OTHER = parse_user(BOB)
USER = Caller(f"user:{ALICE}", user_id=ALICE, upn="alice@contoso.test")


@pytest.mark.parametrize(
    ("caller", "access", "users", "allowed"),
    [
        (Caller("function-key", everything=True), "audit", [], True),
        (Caller("app:x", frozenset({ROLE_READ_WRITE})), "write", [OTHER], True),
        (Caller("app:x", frozenset({ROLE_READ_WRITE})), "audit", [], True),
        (Caller("app:x", frozenset({ROLE_READ})), "read", [OTHER, SELF_ID], True),
        (Caller("app:x", frozenset({ROLE_READ})), "write", [OTHER], False),
        (Caller("app:x", frozenset({ROLE_READ})), "audit", [], False),
        (Caller("app:x", frozenset({"Something.Else"})), "read", [OTHER], False),
        (Caller("app:x"), "read", [], False),
        (USER, "write", [SELF_ID], True),
        (USER, "read", [SELF_UPN], True),
        (USER, "read", [SELF_ID, OTHER], False),
        (USER, "write", [OTHER], False),
        (USER, "read", [], False),  # nobody named: deny, never "everybody"
        (USER, "audit", [], False),
        (Caller(f"user:{ALICE}", user_id=ALICE), "read", [SELF_UPN], False),  # no UPN claim: ids only
        (Caller(f"user:{ALICE}", frozenset({ROLE_READ}), ALICE), "read", [OTHER], True),
        (Caller(f"user:{ALICE}", frozenset({ROLE_READ}), ALICE), "write", [SELF_ID], True),
        (Caller(f"user:{ALICE}", frozenset({ROLE_READ}), ALICE), "write", [OTHER], False),
    ],
)
def test_decisions(caller, access, users, allowed):
    if allowed:
        caller.require(access, users)
        return
    with pytest.raises(ServiceError) as refused:
        caller.require(access, users)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")


# --- the decisions about stored schedules and watches and the audit trail (shared/api/auth.py's last part) --

FUNCTION_KEY = Caller("function-key", everything=True)
READ_WRITE_APP = Caller("app:rw", frozenset({ROLE_READ_WRITE}))
READ_APP = Caller("app:r", frozenset({ROLE_READ}))
NO_ROLE_APP = Caller("app:none")  # entra mode, a token with no role: denied by default


class Directory:
    """The directory as permit sees it: Alice's UPN is hers; an object id is never looked up."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, user: UserRef) -> str:
        self.asked.append(user.normalized)
        return {"alice@contoso.test": ALICE}.get(user.normalized, BOB)


class Schedules:
    def __init__(self, user_id: str, etag: str = 'W/"2"') -> None:
        self.schedule, self.etag, self.reads = SimpleNamespace(user_id=user_id), etag, 0

    async def get(self, schedule_id: str) -> tuple[SimpleNamespace, str]:
        self.reads += 1
        return self.schedule, self.etag


def stored(user_id: str) -> Any:
    return SimpleNamespace(schedules=Schedules(user_id), directory=Directory())


def refused(call: Callable[[], object], status: int = 403, code: str = "forbidden") -> None:
    with pytest.raises(ServiceError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code)


async def refused_async(call: Awaitable[object], status: int = 403, code: str = "forbidden") -> None:
    with pytest.raises(ServiceError) as caught:
        await call
    assert (caught.value.status, caught.value.code) == (status, code)


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [(FUNCTION_KEY, True), (READ_WRITE_APP, True), (READ_APP, False), (USER, False), (NO_ROLE_APP, False)],
)
def test_the_audit_trail_is_for_callers_who_may_change_everyone(caller, allowed):
    if allowed:
        may_read_audit(caller)
    else:
        refused(lambda: may_read_audit(caller))


def test_a_schedule_list_shows_the_user_asked_for_else_everyone_or_ones_own():
    assert schedule_list_user(USER, "bob@contoso.test") == "bob@contoso.test"  # then checked by permit
    assert schedule_list_user(READ_APP, None) is None  # everyone's
    assert schedule_list_user(FUNCTION_KEY, None) is None
    assert schedule_list_user(USER, None) == ALICE  # a signed-in user's own
    assert schedule_list_user(NO_ROLE_APP, None) is None  # and refused when checked, below


async def test_a_schedule_list_is_checked():
    directory = Directory()
    assert await permit_schedule_list(USER, None, directory) == ALICE
    assert await permit_schedule_list(USER, "Alice@Contoso.test", directory) == "Alice@Contoso.test"
    assert directory.asked == ["alice@contoso.test"]  # her UPN is checked to be hers now
    assert await permit_schedule_list(READ_APP, None, directory) is None
    assert await permit_schedule_list(READ_APP, BOB, directory) == BOB
    await refused_async(permit_schedule_list(USER, BOB, directory))
    await refused_async(permit_schedule_list(USER, "bob@contoso.test", directory))  # not her UPN
    await refused_async(permit_schedule_list(NO_ROLE_APP, None, directory))


async def test_a_schedule_is_readable_by_whoever_may_read_its_user():
    await permit_schedule_read(USER, ALICE, Directory())
    await permit_schedule_read(READ_APP, BOB, Directory())
    await refused_async(permit_schedule_read(USER, BOB, Directory()))
    await refused_async(permit_schedule_read(NO_ROLE_APP, BOB, Directory()))


def test_a_limited_callers_change_is_pinned_to_the_version_checked():
    assert pinned_version('W/"2"', None) == 'W/"2"'
    assert pinned_version('W/"2"', "*") == 'W/"2"'
    assert pinned_version('W/"2"', 'W/"2"') == 'W/"2"'
    refused(lambda: pinned_version('W/"2"', 'W/"1"'), 412, "preconditionFailed")


async def test_a_schedule_is_changed_only_by_whoever_may_change_its_users():
    everyone = stored(BOB)
    assert await permit_schedule_change(READ_WRITE_APP, "s1", [], 'W/"1"', everyone) == 'W/"1"'
    assert await permit_schedule_change(FUNCTION_KEY, "s1", [OTHER], None, everyone) is None
    assert everyone.schedules.reads == 0  # nothing to check: nothing read
    hers = stored(ALICE)
    assert await permit_schedule_change(USER, "s1", [], None, hers) == 'W/"2"'
    assert await permit_schedule_change(USER, "s1", [SELF_UPN], "*", hers) == 'W/"2"'
    await refused_async(permit_schedule_change(USER, "s1", [OTHER], None, hers))  # moved to Bob
    await refused_async(permit_schedule_change(USER, "s1", [], 'W/"1"', hers), 412, "preconditionFailed")
    await refused_async(permit_schedule_change(USER, "s1", [], None, stored(BOB)))  # Bob's
    await refused_async(permit_schedule_change(READ_APP, "s1", [], None, stored(BOB)))
    await refused_async(permit_schedule_change(NO_ROLE_APP, "s1", [], None, stored(BOB)))


@pytest.mark.parametrize(
    ("caller", "allowed"),
    [(FUNCTION_KEY, True), (READ_WRITE_APP, True), (READ_APP, True), (USER, False), (NO_ROLE_APP, False)],
)
async def test_only_a_caller_who_may_read_anyone_watches_a_group(caller, allowed):
    group = "9a000000-0000-4000-8000-000000000009"
    if allowed:
        may_watch_group(caller)
        await permit_watch_targets(caller, group, Directory())
    else:
        refused(lambda: may_watch_group(caller))
        await refused_async(permit_watch_targets(caller, group, Directory()))


async def test_a_watchs_users_must_be_readable_by_its_maker():
    await permit_watch_targets(USER, [SELF_ID, SELF_UPN], Directory())
    await permit_watch_targets(READ_APP, [OTHER, SELF_ID], Directory())
    await refused_async(permit_watch_targets(USER, [SELF_ID, OTHER], Directory()))
    await refused_async(permit_watch_targets(NO_ROLE_APP, [OTHER], Directory()))


def test_only_signed_in_users_watches_are_counted():
    assert watch_limit(USER, 20) == 20
    assert watch_limit(NO_ROLE_APP, 20) == 20  # whoever may not read everyone is counted
    assert watch_limit(READ_APP, 20) is None  # a tenant's flows
    assert watch_limit(FUNCTION_KEY, 20) is None


def test_a_watch_list_shows_everyones_only_to_a_caller_who_may_read_anyone():
    assert watches_listed_for(READ_APP) is None
    assert watches_listed_for(FUNCTION_KEY) is None
    assert watches_listed_for(USER) == USER.name
    assert watches_listed_for(NO_ROLE_APP) == NO_ROLE_APP.name


@pytest.mark.parametrize(
    ("caller", "created_by", "change", "allowed"),
    [
        (USER, USER.name, False, True),
        (USER, USER.name, True, True),
        (USER, "user:someone-else", False, False),
        (USER, "user:someone-else", True, False),
        (READ_APP, USER.name, False, True),
        (READ_APP, USER.name, True, False),  # may see it, not stop it
        (READ_WRITE_APP, USER.name, True, True),
        (FUNCTION_KEY, USER.name, True, True),
        (NO_ROLE_APP, USER.name, False, False),
        (NO_ROLE_APP, NO_ROLE_APP.name, True, True),
    ],
)
def test_a_watch_is_its_makers_and_a_404_to_whoever_may_not_see_it(caller, created_by, change, allowed):
    if allowed:
        may_use_watch(caller, created_by, change)
    else:
        refused(lambda: may_use_watch(caller, created_by, change), 404, "watchNotFound")
