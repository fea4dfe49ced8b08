"""`GET /users?$filter=...`: finding users by e-mail address, as the service does for an address that is
not a UPN. Strict: only `mail eq '<address>'` and `proxyAddresses/any(x:x eq '<smtp:address>')` clauses,
joined by `or`, are served (both are plain `$filter`s on users in Graph, no advanced query needed); any
other filter is Graph's 400 Request_UnsupportedQuery, a list without a filter is refused too (the emulator
does not page a whole directory)."""

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


def parse_address_filter(raw: str) -> list[tuple[str, str]]:
    """[(property, value)] of a served filter: `mail` or `proxyAddresses` clauses joined by ` or `."""
    clauses: list[tuple[str, str]] = []
    for clause in raw.strip().split(" or "):
        clause = clause.strip()
        if mail := _MAIL.fullmatch(clause):
            clauses.append(("mail", mail.group(1).replace("''", "'")))
        elif (proxy := _PROXY.fullmatch(clause)) and proxy.group(1) == proxy.group(2):
            clauses.append(("proxyAddresses", proxy.group(3).replace("''", "'")))
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
    clauses = parse_address_filter(options["filter"])
    select = parse_select(options["select"]) if "select" in options else None
    found = [u for u in ctx.emulator.tenant.users() if _matches(u, clauses)]
    context = f"{ctx.request.base_url}/$metadata#users"
    if select:
        context = f"{ctx.request.base_url}/$metadata#users({','.join(select)})"
    return ok({"@odata.context": context, "value": [user_properties(u, select) for u in found]})


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        ("users",),
        Permission.READ_USER,
        list_users,
        object_id_only=False,
        query_options=frozenset({"filter", "select"}),
    ),
)
