"""The live check for a real tenant (not run in CI): does Graph behave as the service relies on where its
docs promise nothing? Run by the admin who deploys, as the app's identity or a test app registration,
against two test users she names; only those two are changed, and what it sets is cleared again. Prints a
table (check, result, what was seen, Graph's request id). `--dry-run` prints the plan and calls nothing;
`--long` adds the checks that wait (a fade, 6 minutes; a PT4H session's end, 4 hours).

    scripts/verify-tenant --user-a alice@contoso.com --user-b bob@contoso.com [--mail alias@contoso.com]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

GRAPH = "https://graph.microsoft.com/v1.0"
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"
PROBE_MESSAGE = "verify-tenant probe (cleared in a moment)"
# Graph: an application's Available session fades (AvailableInactive) after about 5 minutes unrefreshed.
FADE_WAIT = 6 * 60
# A PT4H session is read this long before and after its four hours.
PT4H = 4 * 3600
EXPIRY_MARGIN = 2 * 60


@dataclass
class Row:
    check: str
    # "ok"; "other": Graph took the other reading of something its docs leave open, which the service is
    # tested against too (localdev/graph/README.md, Readings); "differs": not what the service relies on;
    # "error"; "not run".
    result: str
    seen: str
    request_id: str = ""


@dataclass(frozen=True)
class Check:
    name: str
    plan: str  # what it calls, for --dry-run
    run: Callable[[Probe], Row]
    long: bool = False  # waits minutes or hours: run only with --long


class Probe:
    """Graph calls with the token, each answer's request id kept for the table."""

    def __init__(
        self,
        client: httpx.Client,
        user_a: str,
        user_b: str,
        mail: str | None,
        session_id: str,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.user_a, self.user_b, self.mail = user_a, user_b, mail
        self.session_id = session_id
        self.wait = wait  # seconds; the tests move the emulator's clock instead
        self.ids: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, path, json=body)

    def user_id(self, user: str) -> str:
        if user not in self.ids:
            response = self.call("GET", f"/users/{user}?$select=id")
            response.raise_for_status()
            self.ids[user] = response.json()["id"]
        return self.ids[user]


def _rid(response: httpx.Response) -> str:
    return response.headers.get("request-id", "")


def check_upn_lookup(p: Probe) -> Row:
    response = p.call("GET", f"/users/{p.user_a}?$select=id,userPrincipalName")
    if response.status_code != 200:
        return Row("upn lookup", "error", f"{response.status_code}", _rid(response))
    return Row("upn lookup", "ok", "GET /users/{upn} finds the user", _rid(response))


def check_mail_lookup(p: Probe) -> Row:
    if p.mail is None:
        return Row("mail lookup", "not run", "give --mail (an alias of user A)")
    literal = p.mail.replace("'", "''")
    query = f"mail eq '{literal}' or proxyAddresses/any(x:x eq 'smtp:{literal}')"
    response = p.call("GET", f"/users?$filter={query}&$select=id")
    if response.status_code != 200:
        return Row("mail lookup", "error", f"{response.status_code} {response.text[:80]}", _rid(response))
    ids = [u["id"] for u in response.json().get("value", [])]
    found = ids == [p.user_id(p.user_a)]
    return Row("mail lookup", "ok" if found else "differs", f"{len(ids)} user(s) found", _rid(response))


def check_unknown_ids(p: Probe) -> Row:
    ids = [p.user_id(p.user_a), UNKNOWN_ID]
    response = p.call("POST", "/communications/getPresencesByUserId", {"ids": ids})
    if response.status_code == 404:
        return Row("unknown ids left out", "other", "404: the call refused, not left out", _rid(response))
    if response.status_code != 200:
        return Row("unknown ids left out", "differs", f"{response.status_code}", _rid(response))
    returned = [v["id"] for v in response.json().get("value", [])]
    left_out = UNKNOWN_ID not in returned
    return Row(
        "unknown ids left out",
        "ok" if left_out else "differs",
        f"{len(returned)} of 2 returned",
        _rid(response),
    )


def check_650_ids(p: Probe) -> Row:
    known = [p.user_id(p.user_a), p.user_id(p.user_b)]
    ids = known + [str(uuid.uuid4()) for _ in range(650 - len(known))]
    response = p.call("POST", "/communications/getPresencesByUserId", {"ids": ids})
    if response.status_code == 404:  # refused for an unknown id (the other reading), not for its size
        return Row("650 ids in one read", "other", "404: an unknown id refused, not the size", _rid(response))
    ok = response.status_code == 200
    return Row("650 ids in one read", "ok" if ok else "differs", f"{response.status_code}", _rid(response))


def check_empty_content_clears(p: Probe) -> Row:
    user_id = p.user_id(p.user_a)
    path = f"/users/{user_id}/presence/setStatusMessage"
    # The probe expires by itself in 10 minutes should the empty content not clear it.
    expiry = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    probe = {"content": PROBE_MESSAGE, "contentType": "text"}
    p.call(
        "POST",
        path,
        {"statusMessage": {"message": probe, "expiryDateTime": {"dateTime": expiry, "timeZone": "UTC"}}},
    )
    cleared = p.call("POST", path, {"statusMessage": {"message": {"content": "", "contentType": "text"}}})
    shown = p.call("GET", f"/users/{user_id}/presence").json().get("statusMessage") or {}
    content = ((shown.get("message") or {}).get("content")) or ""
    ok = cleared.status_code == 200 and content == ""
    return Row(
        "empty content clears", "ok" if ok else "differs", f"shown after: {content!r}"[:60], _rid(cleared)
    )


def check_preferred_range(p: Probe) -> Row:
    user_id = p.user_id(p.user_b)
    path = f"/users/{user_id}/presence/setUserPreferredPresence"
    body = {"availability": "Busy", "activity": "Busy"}
    try:
        shortest = p.call("POST", path, body | {"expirationDuration": "PT5M"})
        too_short = p.call("POST", path, body | {"expirationDuration": "PT4M"})
    finally:
        p.call("POST", f"/users/{user_id}/presence/clearUserPreferredPresence")
    ok = shortest.status_code == 200 and too_short.status_code == 400
    seen = f"PT5M {shortest.status_code}, PT4M {too_short.status_code}"
    return Row("preferred duration range", "ok" if ok else "differs", seen, _rid(shortest))


def _shown(p: Probe, user_id: str) -> tuple[httpx.Response, tuple[str, str, str]]:
    """(availability, activity, sequenceNumber) as Graph shows them now."""
    response = p.call("GET", f"/users/{user_id}/presence")
    response.raise_for_status()
    body = response.json()
    return response, (
        body.get("availability", ""),
        body.get("activity", ""),
        body.get("sequenceNumber") or "",
    )


def _set_session(p: Probe, user_id: str, availability: str, activity: str, duration: str) -> httpx.Response:
    body = {
        "sessionId": p.session_id,
        "availability": availability,
        "activity": activity,
        "expirationDuration": duration,
    }
    return p.call("POST", f"/users/{user_id}/presence/setPresence", body)


def _clear_session(p: Probe, user_id: str) -> None:
    p.call("POST", f"/users/{user_id}/presence/clearPresence", {"sessionId": p.session_id})


def check_session_pt4h(p: Probe) -> Row:
    user_id = p.user_id(p.user_b)
    try:
        response = _set_session(p, user_id, "Busy", "InACall", "PT4H")
    finally:
        _clear_session(p, user_id)
    ok = response.status_code == 200
    seen = f"PT4H accepted ({response.status_code}); --long sees it last"
    return Row("session PT4H", "ok" if ok else "differs", seen, _rid(response))


def check_sequence_on_fade(p: Probe) -> Row:
    """An Available session left unrefreshed fades: does sequenceNumber move with it? (The service compares
    availability and activity whatever it does; this says which reading the tenant is.)"""
    user_id = p.user_id(p.user_a)
    try:
        set_ = _set_session(p, user_id, "Available", "Available", "PT1H")
        if set_.status_code != 200:
            return Row("sequenceNumber on a fade", "error", f"setPresence {set_.status_code}", _rid(set_))
        _, before = _shown(p, user_id)
        p.wait(FADE_WAIT)
        after_read, after = _shown(p, user_id)
    finally:
        _clear_session(p, user_id)
    if before[:2] == after[:2]:
        return Row(
            "sequenceNumber on a fade", "differs", f"no fade seen: {'/'.join(after[:2])}", _rid(after_read)
        )
    moved = before[2] != after[2]
    seen = f"{'/'.join(before[:2])} -> {'/'.join(after[:2])}, number {'moved' if moved else 'kept'}"
    return Row("sequenceNumber on a fade", "ok" if moved else "other", seen, _rid(after_read))


def check_session_lasts_pt4h(p: Probe) -> Row:
    """A session set with PT4H shows until four hours have passed, and not after."""
    user_id = p.user_id(p.user_b)
    try:
        set_ = _set_session(p, user_id, "Busy", "InACall", "PT4H")
        if set_.status_code != 200:
            return Row("session lasts PT4H", "error", f"setPresence {set_.status_code}", _rid(set_))
        p.wait(PT4H - EXPIRY_MARGIN)
        _, before_end = _shown(p, user_id)
        p.wait(2 * EXPIRY_MARGIN)
        after_read, after_end = _shown(p, user_id)
    finally:
        _clear_session(p, user_id)
    held = ("Busy", "InACall")
    lasted, ended = before_end[:2] == held, after_end[:2] != held
    moved = before_end[2] != after_end[2]
    seen = (
        f"at 3h58 {'/'.join(before_end[:2])}, at 4h02 {'/'.join(after_end[:2])}"
        f" (number {'moved' if moved else 'kept'})"
    )
    return Row("session lasts PT4H", "ok" if lasted and ended else "differs", seen, _rid(after_read))


CHECKS: tuple[Check, ...] = (
    Check("upn lookup", "GET /users/{user A}", check_upn_lookup),
    Check("mail lookup", "GET /users?$filter=mail eq … or proxyAddresses/any(…) (--mail)", check_mail_lookup),
    Check("unknown ids left out", "POST getPresencesByUserId [A, all-zero id]", check_unknown_ids),
    Check("650 ids in one read", "POST getPresencesByUserId [A, B, 648 random ids]", check_650_ids),
    Check("empty content clears", "setStatusMessage on A (probe, then empty)", check_empty_content_clears),
    Check(
        "preferred duration range",
        "setUserPreferredPresence on B (PT5M, PT4M), then clear",
        check_preferred_range,
    ),
    Check("session PT4H", "setPresence on B with PT4H, then clearPresence", check_session_pt4h),
    Check(
        "sequenceNumber on a fade",
        "setPresence Available on A, read, wait 6 min, read, then clearPresence",
        check_sequence_on_fade,
        long=True,
    ),
    Check(
        "session lasts PT4H",
        "setPresence Busy/InACall PT4H on B, read at 3h58 and 4h02, then clearPresence",
        check_session_lasts_pt4h,
        long=True,
    ),
)


def session_id_of(token: str) -> str:
    """setPresence's sessionId is the caller's application id: the token's appid/azp claim."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims.get("appid") or claims.get("azp") or "")


def _token() -> str:
    if os.environ.get("GRAPH_TOKEN"):
        return os.environ["GRAPH_TOKEN"]
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential().get_token("https://graph.microsoft.com/.default").token


def table(rows: list[Row]) -> str:
    lines = [f"{'check':<26} {'result':<8} {'seen':<48} request-id"]
    lines += [f"{r.check:<26} {r.result:<8} {r.seen:<48} {r.request_id}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, wait: Callable[[float], None] = time.sleep) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user-a", required=True, help="a test user's UPN (its status message is probed)")
    parser.add_argument("--user-b", required=True, help="another test user's UPN (session, preferred)")
    parser.add_argument("--mail", help="an e-mail address of user A that is not her UPN")
    parser.add_argument("--graph-url", default=os.environ.get("GRAPH_BASE_URL", GRAPH))
    parser.add_argument("--long", action="store_true", help="also the checks that wait (about 4 h 10 min)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, call nothing")
    args = parser.parse_args(argv)
    if args.dry_run:
        print(f"would check, changing only {args.user_a} and {args.user_b}, against {args.graph_url}:")
        for check in CHECKS:
            skipped = check.long and not args.long
            print(f"  {check.name:<26} {'(with --long) ' if skipped else ''}{check.plan}")
        return 0
    token = _token()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=args.graph_url, headers=headers, timeout=30) as client:
        probe = Probe(client, args.user_a, args.user_b, args.mail, session_id_of(token), wait)
        rows = []
        for check in CHECKS:
            if check.long and not args.long:
                rows.append(Row(check.name, "not run", "waits: give --long"))
                continue
            try:
                rows.append(check.run(probe))
            except httpx.HTTPError as error:
                rows.append(Row(check.name, "error", str(error)[:48]))
    print(table(rows))
    return 0 if all(r.result in ("ok", "other", "not run") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
