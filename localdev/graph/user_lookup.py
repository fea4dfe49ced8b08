"""`GET /users?$filter=...`: finding users by e-mail address, as the service does for an address that is
not a UPN. Strict: only `mail eq '<address>'` and `proxyAddresses/any(x:x eq '<smtp:address>')` clauses,
joined by `or`, are served. Graph serves both by default ("Advanced query capabilities on Microsoft Entra
ID objects": `eq` on mail and proxyAddresses needs no ConsistencyLevel header nor $count). An operator
Graph serves only in an advanced query (`endsWith`, `ne`, `not`) is its 400 Request_UnsupportedQuery
naming the missing parameters when they are missing, and the emulator does not serve it with them either;
any other filter is Request_UnsupportedQuery; a list without a filter is refused (the emulator does not
page a whole directory). `$count=true` adds `@odata.count` with `ConsistencyLevel: eventual` and is
silently ignored without it, as Graph documents."""

from __future__ import annotations

import re

from localdev.graph.auth import Permission
from localdev.graph.errors import bad_request, unsupported_query
from localdev.graph.handlers import Context, Route, ok, query_options
from localdev.graph.resources import parse_select, user_properties
from localdev.graph.state import User
from localdev.graph.wire import GraphResponse

_LITERAL = r"'((?:[^']|'')*)'"
_MAIL = re.compile(rf"mail eq {_LITERAL}")
_PROXY = re.compile(rf"proxyAddresses/any\((\w+):\s*(\w+) eq {_LITERAL}\)")


# Operators Graph serves on users only in an advanced query (ConsistencyLevel: eventual and $count=true).
_ADVANCED_ONLY = re.compile(r"\bendsWith\(|\sne\s|^not[\s(]", re.IGNORECASE)


def parse_address_filter(raw: str, *, advanced: bool = False) -> list[tuple[str, str]]:
    """[(property, value)] of a served filter: `mail` or `proxyAddresses` clauses joined by ` or `.
    `advanced`: the request carries Graph's advanced query parameters."""
    clauses: list[tuple[str, str]] = []
    for clause in raw.strip().split(" or "):
        clause = clause.strip()
        if mail := _MAIL.fullmatch(clause):
            clauses.append(("mail", mail.group(1).replace("''", "'")))
        elif (proxy := _PROXY.fullmatch(clause)) and proxy.group(1) == proxy.group(2):
            clauses.append(("proxyAddresses", proxy.group(3).replace("''", "'")))
        elif (operator := _ADVANCED_ONLY.search(clause)) and not advanced:
            name = operator.group(0).strip(" (").replace("(", "")
            raise unsupported_query(
                f"Operator '{name}' is not supported because the required parameters might be missing. "
                "Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to "
                "https://aka.ms/graph-docs/advanced-queries for more information"
            )
        else:
            raise unsupported_query(
                f"Unsupported or invalid query filter clause specified for resource 'User': '{clause}'."
            )
    return clauses


def _matches(user: User, clauses: list[tuple[str, str]]) -> bool:
    # Directory string comparisons ignore case (the "SMTP:"/"smtp:" prefix too).
    for name, value in clauses:
        wanted = value.lower()
        if name == "mail" and (user.mail or "").lower() == wanted:
            return True
        if name == "proxyAddresses" and wanted in (a.lower() for a in user.proxy_addresses):
            return True
    return False


def list_users(ctx: Context) -> GraphResponse:
    options = query_options(ctx.request.query)
    if "filter" not in options:
        raise bad_request("The emulator lists users only with a $filter on mail or proxyAddresses.")
    eventual = ctx.request.headers.get("ConsistencyLevel", "").strip().lower() == "eventual"
    counted = options.get("count", "").strip().lower() == "true"
    clauses = parse_address_filter(options["filter"], advanced=eventual and counted)
    select = parse_select(options["select"]) if "select" in options else None
    found = [u for u in ctx.emulator.tenant.users() if _matches(u, clauses)]
    context = f"{ctx.request.base_url}/$metadata#users"
    if select:
        context = f"{ctx.request.base_url}/$metadata#users({','.join(select)})"
    body: dict[str, object] = {"@odata.context": context}
    if eventual and counted:
        body["@odata.count"] = len(found)
    return ok(body | {"value": [user_properties(u, select) for u in found]})


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        ("users",),
        Permission.READ_USER,
        list_users,
        object_id_only=False,
        query_options=frozenset({"filter", "select", "count"}),
    ),
)
