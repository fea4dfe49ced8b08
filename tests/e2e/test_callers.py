"""Every caller against every route, through the local host: in `entra` mode (principals as App Service
Authentication passes them) and in `function-key` mode (keys as the Functions host checks them). Each
refusal is checked to have reached neither Graph (no write in the emulator's journal) nor storage (no row
added, changed or removed)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from azure.data.tables.aio import TableServiceClient

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID, SUPPORT_GROUP_ID
from localdev.stack import Stack
from tests.e2e.conftest import KEY, REPO, Api, Reply

TENANT = "7e4a0000-0000-4000-8000-0000000000aa"
AUDIENCE = "api://presence-e2e"
ALICE_UPN = "alice@contoso.test"
READ_WRITE, READ = "Presence.ReadWrite.All", "Presence.Read.All"
HOOK = "https://hooks.example.test/flow"


# --- callers -----------------------------------------------------------------------------------------


def principal(claims: list[tuple[str, str]], role_typ: str | None = "roles") -> str:
    document: dict[str, Any] = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims]}
    if role_typ is not None:  # App Service names it; a principal without it must not be read as "none"
        document["role_typ"] = role_typ
    return base64.b64encode(json.dumps(document).encode()).decode()


def app(*roles: str, audience: str = AUDIENCE, tenant: str = TENANT) -> str:
    claims = [("aud", audience), ("tid", tenant), ("azp", "c11e4700-0000-4000-8000-0000000000bb")]
    return principal(claims + [("idtyp", "app"), ("oid", BOB_ID)] + [("roles", r) for r in roles])


def alice(*roles: str) -> str:
    return signed_in(ALICE_ID, ALICE_UPN, *roles)


def signed_in(
    object_id: str, upn: str, *roles: str, role_typ: str | None = "roles", role_claim: str = "roles"
) -> str:
    claims = [("aud", AUDIENCE), ("tid", TENANT), ("scp", "user_impersonation"), ("oid", object_id)]
    return principal(claims + [("preferred_username", upn)] + [(role_claim, r) for r in roles], role_typ)


@dataclass(frozen=True)
class Caller:
    name: str
    header: str | None
    reads: set[str]  # whose presence and schedules it may read: "alice", "bob"
    writes: set[str]
    audit: bool = False
    status: int = 403  # what a refusal is


ENTRA_CALLERS = [
    Caller("nobody", None, set(), set(), status=401),
    Caller("malformed", "eyJub3QiOiAianNvbiI", set(), set(), status=401),
    Caller("wrong-audience", app(READ_WRITE, audience="api://someone-else"), set(), set(), status=401),
    Caller(
        "wrong-tenant",
        app(READ_WRITE, tenant="00000000-0000-4000-8000-000000000000"),
        set(),
        set(),
        status=401,
    ),
    Caller("app-without-roles", app(), set(), set()),
    Caller("app-other-role", app("Directory.Read.All"), set(), set()),
    Caller("app-read", app(READ), {"alice", "bob"}, set()),
    Caller("app-read-write", app(READ_WRITE), {"alice", "bob"}, {"alice", "bob"}, audit=True),
    Caller("alice-herself", alice(), {"alice"}, {"alice"}),
    Caller("alice-with-read", alice(READ), {"alice", "bob"}, {"alice"}),
    # Alice's UPN given to Bob since (or a token whose UPN claim is stale): it is Alice's id it resolves to.
    Caller("bob-with-alices-upn", signed_in(BOB_ID, ALICE_UPN), {"bob"}, {"bob"}),
    # No role_typ, and a claim typed "none" carrying the read-write role: it is no role at all.
    Caller(
        "alice-with-a-none-typed-claim",
        signed_in(ALICE_ID, ALICE_UPN, READ_WRITE, role_typ=None, role_claim="none"),
        {"alice"},
        {"alice"},
    ),
]


# --- routes ------------------------------------------------------------------------------------------

Send = Callable[[Api, dict[str, str], str], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    name: str
    access: str  # "read", "write" or "audit"
    send: Send  # (api, headers, schedule id) -> reply; the target user is in the route's name
    ok: int
    whom: str  # "alice", "bob", or "" for the audit trail


def on_user(method: str, path: str, body: Any | None, ok: int, access: str) -> list[Route]:
    routes = []
    for whom, user in (("alice", ALICE_UPN), ("bob", BOB_ID)):

        def send(api: Api, headers: dict[str, str], _: str, user: str = user) -> Awaitable[Reply]:
            kwargs = {"json": body} if body is not None else {}
            return api.call(method, path.format(user=user), key=None, headers=headers, **kwargs)

        routes.append(Route(f"{method} {path} ({whom})", access, send, ok, whom))
    return routes


def on_schedule(method: str, body: Any | None, ok: int, access: str) -> list[Route]:
    routes = []
    for whom in ("alice", "bob"):

        def send(api: Api, headers: dict[str, str], schedule_id: str) -> Awaitable[Reply]:
            kwargs = {"json": body} if body is not None else {}
            return api.call(method, f"/api/schedules/{schedule_id}", key=None, headers=headers, **kwargs)

        routes.append(Route(f"{method} /api/schedules/{{id}} ({whom})", access, send, ok, whom))
    return routes


def schedule_body(user: str) -> dict[str, Any]:
    # A month ahead of the service's (real) clock: a start may lie at most two years ahead.
    start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    return {
        "user": user,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "statusMessage": "Workshop",
    }


ROUTES = [
    *on_user("GET", "/api/users/{user}/presence", None, 200, "read"),
    *on_user("GET", "/api/users/{user}/presence/holds", None, 200, "read"),
    *on_user(
        "PUT",
        "/api/users/{user}/presence/session",
        {"availability": "Busy", "activity": "InACall"},
        200,
        "write",
    ),
    *on_user("DELETE", "/api/users/{user}/presence/session", None, 204, "write"),
    *on_user(
        "PUT",
        "/api/users/{user}/presence/preferred",
        {"availability": "Away", "activity": "Away"},
        200,
        "write",
    ),
    *on_user("DELETE", "/api/users/{user}/presence/preferred", None, 204, "write"),
    *on_user("PUT", "/api/users/{user}/presence/status-message", {"message": "Out for lunch"}, 200, "write"),
    *on_user("DELETE", "/api/users/{user}/presence/status-message", None, 204, "write"),
    *[
        Route(
            f"POST /api/presence/query ({whom})",
            "read",
            lambda api, headers, _, user=user: api.post(
                "/api/presence/query", key=None, headers=headers, json={"users": [user]}
            ),
            200,
            whom,
        )
        for whom, user in (("alice", ALICE_UPN), ("bob", BOB_ID))
    ],
    *[
        Route(
            f"POST /api/schedules ({whom})",
            "write",
            lambda api, headers, _, user=user: api.post(
                "/api/schedules", key=None, headers=headers, json=schedule_body(user)
            ),
            201,
            whom,
        )
        for whom, user in (("alice", ALICE_UPN), ("bob", BOB_ID))
    ],
    *[
        Route(
            f"GET /api/schedules?user= ({whom})",
            "read",
            lambda api, headers, _, user=user: api.get(
                f"/api/schedules?user={user}", key=None, headers=headers
            ),
            200,
            whom,
        )
        for whom, user in (("alice", ALICE_UPN), ("bob", BOB_ID))
    ],
    *[
        Route(
            f"POST /api/watches ({whom})",
            "read",  # watching is reading: the same rules as reading the user's presence
            lambda api, headers, _, user=user: api.post(
                "/api/watches", key=None, headers=headers, json={"users": [user], "callbackUrl": HOOK}
            ),
            201,
            whom,
        )
        for whom, user in (("alice", ALICE_UPN), ("bob", BOB_ID))
    ],
    *on_schedule("GET", None, 200, "read"),
    *on_schedule("PATCH", {"statusMessage": "Workshop, room 4"}, 200, "write"),
    *on_schedule("DELETE", None, 204, "write"),
    Route(
        "GET /api/audit",
        "audit",
        lambda api, headers, _: api.get("/api/audit", key=None, headers=headers),
        200,
        "",
    ),
]


def allowed(caller: Caller, route: Route) -> bool:
    if route.access == "audit":
        return caller.audit
    return route.whom in (caller.reads if route.access == "read" else caller.writes)


# --- the stacks and what a refusal must not have touched ------------------------------------------


@pytest.fixture(scope="module")
def entra_stack() -> Iterator[Stack]:
    env = {
        "CALLER_AUTH": "entra",
        "WEBSITE_AUTH_ENABLED": "true",
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_AUDIENCES": f"{AUDIENCE},api://another",
    }
    with Stack(app_dir=REPO, function_key=KEY, run_timers=False, presence_budget=0, env=env) as running:
        running.start()
        yield running


async def snapshot(stack: Stack) -> dict[str, list[tuple[str, str, str]]]:
    """Every row of the service's tables, with its ETag: a write anywhere changes it."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    async with TableServiceClient.from_connection_string(stack.azurite.connection_string) as service:
        async for table in service.list_tables():
            if table.name.startswith(stack.table_prefix):
                client = service.get_table_client(table.name)
                rows = [
                    (r["PartitionKey"], r["RowKey"], r.metadata["etag"]) async for r in client.list_entities()
                ]
                found[table.name] = sorted(rows)
    return found


async def graph_writes(graph: EmulatorControl) -> int:
    return len([e for e in await graph.journal(method="POST") if "/presence/" in e.path])


@pytest.fixture(scope="module")
async def entra_api(entra_stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, entra_stack.host_url)


ADMIN = {"x-ms-client-principal": app(READ_WRITE)}


async def schedules_for_both(api: Api) -> dict[str, str]:
    ids = {}
    for whom, user in (("alice", ALICE_ID), ("bob", BOB_ID)):
        reply = await api.post("/api/schedules", key=None, headers=ADMIN, json=schedule_body(user))
        assert reply.status == 201, reply.body
        ids[whom] = reply.body["id"]
    return ids


@pytest.mark.parametrize("caller", ENTRA_CALLERS, ids=lambda c: c.name)
async def test_entra_callers_on_every_route(caller: Caller, entra_stack: Stack, entra_api: Api):
    async with EmulatorControl(entra_stack.graph_url) as graph:
        await graph.reset()
        # Alice's UPN in the user cache beforehand: resolving it for a refusal then writes nothing.
        assert (
            await entra_api.get(f"/api/users/{ALICE_UPN}/presence", key=None, headers=ADMIN)
        ).status == 200
        outcomes = []
        for route in ROUTES:
            # Fresh ones for each route about a schedule: an allowed DELETE cancels its own.
            ids = await schedules_for_both(entra_api) if "{id}" in route.name else {}
            headers = {"x-ms-client-principal": caller.header} if caller.header else {}
            before_rows, before_writes = await snapshot(entra_stack), await graph_writes(graph)
            reply = await route.send(entra_api, headers, ids.get(route.whom, ""))
            if allowed(caller, route):
                outcomes.append((route.name, reply.status == route.ok, reply.status))
                continue
            untouched = (
                await snapshot(entra_stack) == before_rows and await graph_writes(graph) == before_writes
            )
            problem = reply.content_type == "application/problem+json"
            outcomes.append(
                (route.name, reply.status == caller.status and untouched and problem, reply.status)
            )
        wrong = [(name, status) for name, ok, status in outcomes if not ok]
        assert not wrong, f"{caller.name}: {wrong}"


async def test_an_entra_host_takes_no_function_key_and_audits_the_caller(entra_stack: Stack, entra_api: Api):
    """App Service Authentication is the gate: no key needed, and the audit trail names the principal."""
    headers = {"x-ms-client-principal": alice()}
    reply = await entra_api.put(
        f"/api/users/{ALICE_UPN}/presence/status-message", key=None, headers=headers, json={"message": "Hi"}
    )
    assert reply.status == 200, reply.body
    trail = await entra_api.get(f"/api/audit?user={ALICE_ID}", key=None, headers=ADMIN)
    assert trail.status == 200, trail.body
    assert trail.body["value"][0]["caller"] == f"user:{ALICE_ID}"
    assert trail.body["value"][0]["operation"] == "statusMessage.set"


# --- function keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "status"),
    [("none", 401), ("wrong-header", 401), ("wrong-code", 401), ("header", None), ("code", None)],
)
async def test_function_keys_on_every_route(how: str, status: int | None, api: Api, graph, stack: Stack):
    """The local host checks FUNCTION_KEY like the Functions host: in x-functions-key or ?code=."""
    function_key_routes = [r for r in ROUTES if r.whom in {"alice", ""}]
    wrong = []
    for route in function_key_routes:
        ids = await schedules_for_both_with_key(api) if "{id}" in route.name else {"alice": ""}
        headers, query = {}, ""
        if how.endswith("header"):
            headers["x-functions-key"] = KEY if how == "header" else "not-the-key"
        if how.endswith("code"):
            query = KEY if how == "code" else "not-the-key"
        with_code = CodeApi(api, query)
        before_rows, before_writes = await snapshot(stack), await graph_writes(graph)
        reply = await route.send(with_code, headers, ids["alice"])
        if status is None:
            if reply.status != route.ok:
                wrong.append((route.name, reply.status))
        elif reply.status != status or (await snapshot(stack), await graph_writes(graph)) != (
            before_rows,
            before_writes,
        ):
            wrong.append((route.name, reply.status))
    for open_route in ("/api/health", "/api/openapi.json"):
        assert (await api.get(open_route, key=None)).status == 200
    assert not wrong, wrong


async def schedules_for_both_with_key(api: Api) -> dict[str, str]:
    reply = await api.post("/api/schedules", json=schedule_body(ALICE_ID))
    assert reply.status == 201, reply.body
    return {"alice": reply.body["id"]}


class CodeApi(Api):
    """The same calls with `?code=` on the URL (a key in the query, as a flow's HTTP action may send it)."""

    def __init__(self, api: Api, code: str) -> None:
        super().__init__(api._session, api.base)
        self._code = code

    async def call(self, method: str, path: str, *, key: str | None = KEY, **kwargs: Any) -> Reply:
        if self._code:
            path += ("&" if "?" in path else "?") + f"code={self._code}"
        return await super().call(method, path, key=key, **kwargs)


async def test_principals_keys_and_message_text_never_reach_the_log(entra_stack: Stack, entra_api: Api):
    """After every caller has called every route above: the host's log (app and host, INFO and above)
    holds no principal, no claim value that identifies a caller, no key and no message text."""
    headers = {"x-ms-client-principal": alice()}
    message = {"message": "Secret plans for Friday"}
    reply = await entra_api.put(
        f"/api/users/{ALICE_UPN}/presence/status-message", key=None, headers=headers, json=message
    )
    assert reply.status == 200
    log = entra_stack.host_log.read_text()
    assert "Secret plans" not in log
    assert "Out for lunch" not in log
    for caller in ENTRA_CALLERS:
        assert caller.header is None or caller.header not in log
    assert TENANT not in log
    assert KEY not in log


async def test_a_signed_in_user_lists_only_her_own_schedules(entra_stack: Stack, entra_api: Api):
    ids = await schedules_for_both(entra_api)
    # No user= : hers only (the stack keeps the schedules of the tests above, fewer than 200 each).
    mine = await entra_api.get("/api/schedules?top=200", key=None, headers={"x-ms-client-principal": alice()})
    assert mine.status == 200, mine.body
    listed = {s["id"] for s in mine.body["value"]}
    assert ids["alice"] in listed
    assert ids["bob"] not in listed
    assert {s["userId"] for s in mine.body["value"]} == {ALICE_ID}
    reader = {"x-ms-client-principal": app(READ)}
    for whom, user in (("alice", ALICE_ID), ("bob", BOB_ID)):
        theirs = await entra_api.get(f"/api/schedules?user={user}&top=200", key=None, headers=reader)
        assert ids[whom] in {s["id"] for s in theirs.body["value"]}
    nobody = await entra_api.get("/api/schedules", key=None, headers={"x-ms-client-principal": app()})
    assert nobody.status == 403


async def test_idempotency_keys_are_each_callers_own(entra_stack: Stack, entra_api: Api):
    """The same key from two callers makes two schedules; a replay whose schedule was moved to somebody
    else since is a 409, not that person's schedule."""
    key = {"Idempotency-Key": "morning-standup"}
    mine = await entra_api.post(
        "/api/schedules",
        key=None,
        headers={**key, "x-ms-client-principal": alice()},
        json=schedule_body(ALICE_ID),
    )
    theirs = await entra_api.post(
        "/api/schedules", key=None, headers={**key, **ADMIN}, json=schedule_body(ALICE_ID)
    )
    assert (mine.status, theirs.status) == (201, 201)
    assert mine.body["id"] != theirs.body["id"]
    moved = await entra_api.call(
        "PATCH", f"/api/schedules/{mine.body['id']}", key=None, headers=ADMIN, json={"user": BOB_ID}
    )
    assert moved.status == 200, moved.body
    again = await entra_api.post(
        "/api/schedules",
        key=None,
        headers={**key, "x-ms-client-principal": alice()},
        json=schedule_body(ALICE_ID),
    )
    assert again.status == 409
    assert again.body["code"] == "idempotencyKeyReused"


async def test_the_entra_hosts_openapi_asks_for_an_entra_token(entra_api: Api):
    reply = await entra_api.get("/api/openapi.json", key=None)
    assert reply.status == 200
    assert list(reply.body["securityDefinitions"]) == ["oauth2"]
    assert reply.body["paths"]["/users/{user}/presence"]["get"]["security"] == [{"oauth2": []}]


async def test_a_watch_is_seen_and_stopped_only_by_its_maker_or_a_reader_of_everyone(
    entra_stack: Stack, entra_api: Api
):
    """A signed-in user watches herself; a group's members are not known up front, so only a caller
    who may read anyone watches a group; another user's watch is a 404 to her, and stays."""
    me, bob = (
        {"x-ms-client-principal": alice()},
        {"x-ms-client-principal": signed_in(BOB_ID, "bob@contoso.test")},
    )
    reader = {"x-ms-client-principal": app(READ)}
    hers = await entra_api.post(
        "/api/watches", key=None, headers=me, json={"users": [ALICE_ID], "callbackUrl": HOOK}
    )
    assert hers.status == 201, hers.body
    group = {"group": SUPPORT_GROUP_ID, "callbackUrl": HOOK}
    refused = await entra_api.post("/api/watches", key=None, headers=me, json=group)
    assert (refused.status, refused.body["code"]) == (403, "forbidden")
    theirs = await entra_api.post("/api/watches", key=None, headers=reader, json=group)
    assert theirs.status == 201, theirs.body
    assert theirs.body["memberCount"] == 3

    path = f"/api/watches/{hers.body['id']}"
    for method in ("GET", "PATCH", "DELETE"):
        reply = await entra_api.call(method, path, key=None, headers=bob, json={"status": "active"})
        assert reply.status == 404, (method, reply.body)
    assert (await entra_api.get(path, key=None, headers=reader)).status == 200
    for method in ("PATCH", "DELETE"):  # seeing everyone's is not stopping them: that takes ReadWrite
        reply = await entra_api.call(method, path, key=None, headers=reader, json={"status": "active"})
        assert reply.status == 404, (method, reply.body)
    assert (
        await entra_api.call("PATCH", path, key=None, headers=ADMIN, json={"status": "active"})
    ).status == 200
    listed = await entra_api.get("/api/watches?top=200", key=None, headers=me)
    assert {w["createdBy"] for w in listed.body["value"]} == {f"user:{ALICE_ID}"}
    everyone = await entra_api.get("/api/watches?top=200", key=None, headers=reader)
    assert {hers.body["id"], theirs.body["id"]} <= {w["id"] for w in everyone.body["value"]}
    assert (await entra_api.delete(path, key=None, headers=me)).status == 204
    assert (await entra_api.get(path, key=None, headers=reader)).status == 404


async def test_a_signed_in_user_has_at_most_20_watches(entra_stack: Stack, entra_api: Api):
    carol = {"x-ms-client-principal": signed_in(CAROL_ID, "carol@contoso.test")}
    body = {"users": [CAROL_ID], "callbackUrl": HOOK}
    answers = [
        (await entra_api.post("/api/watches", key=None, headers=carol, json=body)).status for _ in range(21)
    ]
    assert answers == [201] * 20 + [409]
    app_reader = {"x-ms-client-principal": app(READ)}  # an app's watches are a tenant's flows: not capped
    assert (await entra_api.post("/api/watches", key=None, headers=app_reader, json=body)).status == 201
