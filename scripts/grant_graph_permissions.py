"""Grant the Function App's managed identity the Microsoft Graph application permissions it needs.

    scripts/grant-graph-permissions --principal-id <object id> [--with-groups] [--dry-run]
    scripts/grant-graph-permissions --identity-name <identity name> [--with-groups] [--dry-run]

The app runs as the user-assigned identity infra/ creates: its object id is
`azd env get-value AZURE_FUNCTION_PRINCIPAL_ID`, its name `azd env get-value AZURE_FUNCTION_IDENTITY_NAME`
(the displayName of its service principal). For a Function App with a system-assigned identity instead,
`--app-name <app>` finds it by the app's name (the same lookup: `--app-name` is another spelling).

It grants `Presence.ReadWrite.All` and `User.ReadBasic.All` (and `GroupMember.Read.All` with --with-groups,
for group watches) as app role assignments on Microsoft Graph's service principal:

    GET  /servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'&$select=id,appRoles
    GET  /servicePrincipals/{identity}?$select=id,displayName   (or $filter=displayName eq '<app name>')
    GET  /servicePrincipals/{identity}/appRoleAssignments        (what it holds already)
    POST /servicePrincipals/{graph}/appRoleAssignedTo {"principalId", "resourceId", "appRoleId"}  per role

A role granted already is left alone ("already granted"), so it can be run again. --dry-run makes the reads
and prints each POST it would make instead of making it. The caller signs in with DefaultAzureCredential
(e.g. `az login`) and needs AppRoleAssignment.ReadWrite.All and Application.Read.All: an administrator
(Privileged Role Administrator or Global Administrator). Against the local Graph emulator (a loopback
--graph-url) it sends the local stack's unsigned token instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import DefaultAzureCredential
from yarl import URL

from shared.platform.config import DEFAULT_GRAPH, LOOPBACK_HOSTS
from shared.platform.identity import GRAPH_SCOPE, LOOPBACK_APP_ID, LoopbackTokenCredential

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's appId, the same in every tenant
REQUIRED_ROLES = ("Presence.ReadWrite.All", "User.ReadBasic.All")
GROUP_ROLE = "GroupMember.Read.All"  # optional: group watches read a group's members
ALREADY_EXISTS = "Permission being assigned already exists on the object"
CALLER_NEEDS = "AppRoleAssignment.ReadWrite.All and Application.Read.All"
_QUERY_SAFE = ",'"  # left as is in a query value; a space goes as %20


class GrantError(Exception):
    """Why the grant cannot go on; the message is printed as is."""


@dataclass(frozen=True)
class Call:
    """One Graph request: printed decoded (as Graph's documentation writes it), sent percent-encoded."""

    method: str
    base_url: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.query)
        return f"{self.base_url}{self.path}" + (f"?{query}" if query else "")

    @property
    def wire_url(self) -> URL:
        query = "&".join(f"{name}={quote(value, safe=_QUERY_SAFE)}" for name, value in self.query)
        return URL(f"{self.base_url}{quote(self.path)}" + (f"?{query}" if query else ""), encoded=True)

    def __str__(self) -> str:
        return f"{self.method} {self.url}" + (f" {json.dumps(self.body)}" if self.body is not None else "")


class GraphRefused(GrantError):
    def __init__(self, call: Call, status: int, code: str, message: str) -> None:
        hint = f" (the signed-in account needs {CALLER_NEEDS})" if status == 403 else ""
        super().__init__(f"Graph refused {call.method} {call.url}: {status} {code}: {message}{hint}")
        self.status = status
        self.code = code
        self.graph_message = message


class Graph:
    """Just enough of a Graph client: JSON in and out, errors as GraphRefused, @odata.nextLink followed."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, token: str) -> None:
        self.base_url = base_url
        self._session = session
        self._headers = {"Authorization": f"Bearer {token}"}
        self.sent: list[Call] = []  # every call made, in order (a dry run prints its reads)

    def call(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: dict[str, Any] | None = None,
    ) -> Call:
        return Call(method, self.base_url, path, tuple(query), body)

    async def send(self, call: Call) -> dict[str, Any]:
        self.sent.append(call)
        return await self._send(call, call.wire_url)

    async def values(self, call: Call) -> list[dict[str, Any]]:
        """Every item of a collection, page after page."""
        page = await self.send(call)
        items = list(page.get("value", []))
        while next_link := page.get("@odata.nextLink"):
            page = await self._send(call, URL(next_link, encoded=True))
            items.extend(page.get("value", []))
        return items

    async def _send(self, call: Call, url: URL) -> dict[str, Any]:
        async with self._session.request(call.method, url, json=call.body, headers=self._headers) as response:
            text = await response.text()
            try:
                body = json.loads(text) if text else {}
            except ValueError:
                body = {}
            if response.status >= 400:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise GraphRefused(
                    call,
                    response.status,
                    error.get("code", "") or response.reason or "",
                    error.get("message", "") or text[:200],
                )
            return body if isinstance(body, dict) else {}


@dataclass(frozen=True)
class Principal:
    id: str
    display_name: str


@dataclass(frozen=True)
class Plan:
    graph_sp_id: str
    principal: Principal
    already: tuple[str, ...]  # role values the identity holds
    grants: tuple[tuple[str, Call], ...] = ()  # (role value, the POST that grants it)


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def find_principal(graph: Graph, *, principal_id: str | None, app_name: str | None) -> Principal:
    select = ("$select", "id,displayName")
    if principal_id is not None:
        try:
            sp = await graph.send(graph.call("GET", f"/servicePrincipals/{principal_id}", [select]))
        except GraphRefused as refused:
            if refused.status == 404:
                raise GrantError(
                    f"no service principal with object id {principal_id} (give the identity's principalId: "
                    "`azd env get-value AZURE_FUNCTION_PRINCIPAL_ID`)"
                ) from None
            raise
        return Principal(sp["id"], sp.get("displayName") or "")
    if app_name is None:
        raise GrantError("give --principal-id or --identity-name")
    name_filter = ("$filter", f"displayName eq {_odata_string(app_name)}")
    with_type = ("$select", "id,displayName,servicePrincipalType")
    named = await graph.values(graph.call("GET", "/servicePrincipals", [name_filter, with_type]))
    # Only a managed identity: an app registration of the same name (say, for App Service
    # Authentication) must not be handed the Graph permissions.
    found = [sp for sp in named if sp.get("servicePrincipalType") == "ManagedIdentity"]
    if not found:
        raise GrantError(
            f"no managed identity named {app_name!r}: give the user-assigned identity's name "
            "(azd env get-value AZURE_FUNCTION_IDENTITY_NAME), or the name of a Function App whose "
            "system-assigned identity is on"
        )
    if len(found) > 1:
        raise GrantError(f"{len(found)} service principals are named {app_name!r}; pass --principal-id")
    return Principal(found[0]["id"], found[0].get("displayName") or "")


async def plan(
    graph: Graph, roles: Sequence[str], *, principal_id: str | None = None, app_name: str | None = None
) -> Plan:
    """Reads only: Microsoft Graph's service principal and app role ids, the identity, what it holds."""
    by_app_id = ("$filter", f"appId eq '{GRAPH_APP_ID}'")
    found = await graph.values(
        graph.call("GET", "/servicePrincipals", [by_app_id, ("$select", "id,appRoles")])
    )
    if len(found) != 1:
        raise GrantError(
            f"expected Microsoft Graph's service principal (appId {GRAPH_APP_ID}), found {len(found)}"
        )
    graph_sp = found[0]
    role_ids = {
        role["value"]: role["id"]
        for role in graph_sp.get("appRoles", [])
        if "Application" in role.get("allowedMemberTypes", ["Application"])
    }
    missing = [role for role in roles if role not in role_ids]
    if missing:
        raise GrantError(f"Microsoft Graph defines no application permission {', '.join(missing)}")
    principal = await find_principal(graph, principal_id=principal_id, app_name=app_name)
    held = await graph.values(graph.call("GET", f"/servicePrincipals/{principal.id}/appRoleAssignments"))
    held_ids = {
        a["appRoleId"].lower() for a in held if a.get("resourceId", "").lower() == graph_sp["id"].lower()
    }
    already = tuple(role for role in roles if role_ids[role].lower() in held_ids)
    grants = tuple(
        (
            role,
            graph.call(
                "POST",
                f"/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
                body={"principalId": principal.id, "resourceId": graph_sp["id"], "appRoleId": role_ids[role]},
            ),
        )
        for role in roles
        if role not in already
    )
    return Plan(graph_sp["id"], principal, already, grants)


async def apply(graph: Graph, plan: Plan) -> list[tuple[str, str]]:
    """Make each grant, printing one line per role as it goes; (role, outcome) for each."""
    outcomes = [(role, "already granted") for role in plan.already]
    for role, outcome in outcomes:
        print(f"{role}: {outcome}")
    for role, call in plan.grants:
        try:
            await graph.send(call)
            outcome = "granted"
        except GraphRefused as refused:
            # Granted in the meantime (or the list was stale): Graph refuses a second identical grant.
            if refused.status != 400 or ALREADY_EXISTS not in refused.graph_message:
                raise
            outcome = "already granted"
        print(f"{role}: {outcome}")
        outcomes.append((role, outcome))
    return outcomes


# --- command line -------------------------------------------------------------------------------------


def _guid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a GUID (an object id)") from None


def _graph_url(value: str) -> str:
    parts = urlsplit(value)
    loopback = (parts.hostname or "") in LOOPBACK_HOSTS
    if (
        not parts.hostname
        or parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not loopback)
    ):
        raise argparse.ArgumentTypeError(
            f"{value!r}: give an https URL (plain http only for a loopback emulator)"
        )
    return value.rstrip("/")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/grant-graph-permissions",
        description="Grant the Function App's managed identity the Microsoft Graph application permissions "
        f"it needs ({', '.join(REQUIRED_ROLES)}). Idempotent. The caller needs {CALLER_NEEDS}.",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--principal-id",
        type=_guid,
        help="the identity's object id (azd env get-value AZURE_FUNCTION_PRINCIPAL_ID)",
    )
    who.add_argument(
        "--identity-name",
        "--app-name",
        dest="app_name",
        help="the managed identity's name, its service principal's displayName (azd env get-value "
        "AZURE_FUNCTION_IDENTITY_NAME; for a system-assigned identity, the Function App's name)",
    )
    parser.add_argument(
        "--with-groups", action="store_true", help=f"also grant {GROUP_ROLE} (needed by group watches)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the grants it would make; change nothing"
    )
    parser.add_argument(
        "--graph-url",
        type=_graph_url,
        default=DEFAULT_GRAPH,
        help=f"Graph's v1.0 root (default {DEFAULT_GRAPH}; http only for a loopback emulator)",
    )
    return parser


def _credential(graph_url: str) -> AsyncTokenCredential:
    if (urlsplit(graph_url).hostname or "") in LOOPBACK_HOSTS:
        return LoopbackTokenCredential(LOOPBACK_APP_ID)
    return DefaultAzureCredential()


async def run(argv: Sequence[str]) -> int:
    """The whole command; 0 on success, 1 when Graph refuses or something is not found, 2 for usage."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    roles = (*REQUIRED_ROLES, GROUP_ROLE) if args.with_groups else REQUIRED_ROLES
    credential = _credential(args.graph_url)
    try:
        async with credential:
            token = (await credential.get_token(GRAPH_SCOPE)).token
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            graph = Graph(args.graph_url, session, token)
            the_plan = await plan(graph, roles, principal_id=args.principal_id, app_name=args.app_name)
            name = the_plan.principal.display_name or "(no displayName)"
            print(f"identity: {name} ({the_plan.principal.id}); Microsoft Graph: {the_plan.graph_sp_id}")
            if args.dry_run:
                for call in graph.sent:
                    print(f"read: {call}")
                for role in the_plan.already:
                    print(f"{role}: already granted")
                for role, call in the_plan.grants:
                    print(f"{role}: would call {call}")
                print("dry run: nothing was changed")
            else:
                await apply(graph, the_plan)
    except GrantError as error:
        print(f"grant-graph-permissions: {error}", file=sys.stderr)
        return 1
    except ClientAuthenticationError as error:
        print(f"grant-graph-permissions: could not get a Graph token (az login?): {error}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, TimeoutError) as error:
        print(f"grant-graph-permissions: cannot reach {args.graph_url}: {error!r}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
