"""Who the caller is, from App Service Authentication's principal header, and what they may do."""

from __future__ import annotations

import base64
import json

import pytest

from shared.api.auth import ROLE_READ, ROLE_READ_WRITE, Caller, caller_from_principal
from shared.directory.ids import parse_user
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
