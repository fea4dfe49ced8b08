"""`EmulatorControl`: an async client for the emulator's control plane (/_emulator), for tests and benchmarks.

```python
async with EmulatorControl("http://127.0.0.1:8765") as graph:
    await graph.set_clock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    await graph.fault("*/setPresence", status=429, count=2)
    ...  # drive the code under test
    calls = await graph.journal(path="/setPresence")
```
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import aiohttp

from localdev.graph.rules import format_duration


@dataclass(frozen=True)
class JournalEntry:
    """One request the emulator received under /v1.0 (an inner $batch request is an entry of its own)."""

    seq: int
    at: datetime
    method: str
    path: str  # e.g. /v1.0/users/<id>/presence/setPresence
    query: dict[str, str]
    headers: dict[str, str]  # without Authorization or anything named like a token, key or secret
    body: Any  # parsed JSON, or None
    status: int
    request_id: str
    batch_request_id: str | None = None
    batch_item_id: str | None = None
    fault: dict[str, Any] | None = None
    readings: tuple[str, ...] = ()  # e.g. "unknownPresenceIds=error": the readings that shaped the answer

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalEntry:
        return cls(
            seq=data["seq"],
            at=datetime.fromisoformat(data["at"]),
            method=data["method"],
            path=data["path"],
            query=dict(data["query"]),
            headers=dict(data["headers"]),
            body=data["body"],
            status=data["status"],
            request_id=data["requestId"],
            batch_request_id=data.get("batchRequestId"),
            batch_item_id=data.get("batchItemId"),
            fault=data.get("fault"),
            readings=tuple(data.get("readings") or ()),
        )


# The Teams client's well-known application id, as the user's own changes carry it.
TEAMS_CLIENT_APP_ID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264"


def _b64url(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class EmulatorControlError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"emulator control plane answered {status}: {body}")
        self.status = status
        self.body = body


class EmulatorControl:
    def __init__(self, base_url: str) -> None:
        """`base_url` is the emulator's root, e.g. http://127.0.0.1:8765 (not .../v1.0)."""
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> EmulatorControl:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- journal ---

    async def journal(self, path: str | None = None, method: str | None = None) -> list[JournalEntry]:
        """Requests received, oldest first; `path` is a substring of the path, `method` exact."""
        params = {k: v for k, v in (("path", path), ("method", method)) if v}
        body = await self._call("GET", "/requests", params=params)
        return [JournalEntry.from_json(e) for e in body["value"]]

    async def clear_journal(self) -> None:
        await self._call("DELETE", "/requests")

    # --- clock ---

    async def now(self) -> datetime:
        return datetime.fromisoformat((await self._call("GET", "/clock"))["now"])

    async def clock_frozen(self) -> bool:
        return bool((await self._call("GET", "/clock"))["frozen"])

    async def set_clock(self, now: datetime, frozen: bool = True) -> datetime:
        if now.tzinfo is None:
            raise ValueError("now must carry an offset")
        body = await self._call("PUT", "/clock", json={"now": now.isoformat(), "frozen": frozen})
        return datetime.fromisoformat(body["now"])

    async def advance(self, **timedelta_kwargs: float) -> datetime:
        """Move the clock forward, e.g. advance(minutes=5); returns the new now."""
        seconds = timedelta(**timedelta_kwargs).total_seconds()
        body = await self._call("POST", "/clock/advance", json={"seconds": seconds})
        return datetime.fromisoformat(body["now"])

    # --- faults and latency ---

    async def fault(
        self,
        path: str = "*",
        status: int | None = 429,
        *,
        method: str = "*",
        count: int = 1,
        retry_after: int | None = None,
        retry_after_form: str = "seconds",
        delay_ms: int = 0,
        code: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """The next `count` calls whose path after /v1.0 matches the glob `path` (and `method`) answer
        `status` (Retry-After `retry_after`, 1 s by default for 429/503, written as `retry_after_form`:
        "seconds", "http-date" or "none"), after `delay_ms`. status=None with a delay only slows them down.
        A rule whose path names $batch (e.g. "/$batch", status=424) fails the whole envelope."""
        rule = {
            "method": method,
            "path": path,
            "status": status,
            "count": count,
            "retryAfter": retry_after,
            "retryAfterForm": retry_after_form,
            "delayMs": delay_ms,
            "code": code,
            "message": message,
        }
        return await self._call("POST", "/faults", json=rule)

    async def random_faults(
        self,
        rate: float,
        seed: int,
        *,
        statuses: Iterable[int] = (429, 503),
        retry_after: int = 1,
        retry_after_forms: Iterable[str] = ("seconds",),
        method: str = "*",
        path: str = "*",
    ) -> dict[str, Any]:
        """Each matching call fails with probability `rate` (seeded); a throttling fault's Retry-After form
        is drawn from `retry_after_forms`."""
        body = {
            "rate": rate,
            "seed": seed,
            "statuses": list(statuses),
            "retryAfter": retry_after,
            "retryAfterForms": list(retry_after_forms),
            "method": method,
            "path": path,
        }
        return await self._call("POST", "/faults/random", json=body)

    async def faults(self) -> dict[str, Any]:
        return await self._call("GET", "/faults")

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/faults")

    async def latency(
        self,
        fixed_ms: int | None = None,
        *,
        min_ms: int | None = None,
        max_ms: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """A fixed or a seeded random added latency per /v1.0 HTTP request; no arguments turns it off."""
        body = {"fixedMs": fixed_ms, "minMs": min_ms, "maxMs": max_ms, "seed": seed}
        return await self._call("PUT", "/latency", json={k: v for k, v in body.items() if v is not None})

    # --- readings: where Graph's docs are silent (localdev/graph/README.md, "Readings") ---

    async def readings(self) -> dict[str, Any]:
        return await self._call("GET", "/readings")

    async def set_readings(
        self,
        *,
        batch_order: str | None = None,
        batch_seed: int | None = None,
        batch_ids_case_insensitive: bool | None = None,
        sequence_on_computed_change: bool | None = None,
        unknown_presence_ids: str | None = None,
        out_of_office_over_held: str | None = None,
    ) -> dict[str, Any]:
        """Change the named switches (the others keep their value); reset() restores the defaults.
        batch_order "shuffled" | "given"; unknown_presence_ids "omitted" | "error";
        out_of_office_over_held "kept" | "shown"."""
        body = {
            "batchOrder": batch_order,
            "batchSeed": batch_seed,
            "batchIdsCaseInsensitive": batch_ids_case_insensitive,
            "sequenceOnComputedChange": sequence_on_computed_change,
            "unknownPresenceIds": unknown_presence_ids,
            "outOfOfficeOverHeld": out_of_office_over_held,
        }
        return await self._call("PUT", "/readings", json={k: v for k, v in body.items() if v is not None})

    async def presence_budget(self, limit: int | None = None) -> dict[str, Any]:
        """Graph's presence throttle: `limit` presence requests per app in any 30 s (None: off); the
        window starts empty. Returns {"limit", "windowSeconds", "inWindow": {appId: n}, "refused"}."""
        return await self._call("PUT", "/budget", json={"limit": limit})

    async def budget(self) -> dict[str, Any]:
        return await self._call("GET", "/budget")

    # --- users and sessions ---

    async def users(self) -> list[dict[str, Any]]:
        return (await self._call("GET", "/users"))["value"]

    async def seed_users(self, users: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add users, each {"userPrincipalName", "id"?, "displayName"?, "mail"?, "proxyAddresses"?}; returns
        them with ids."""
        return (await self._call("POST", "/users", json={"users": [dict(u) for u in users]}))["value"]

    async def add_session(
        self,
        user_id: str,
        session_id: str,
        availability: str,
        activity: str,
        expiration: timedelta | str | None = None,
    ) -> dict[str, Any]:
        """A simulated Teams client session (lasting until removed unless `expiration` is given)."""
        body: dict[str, Any] = {"sessionId": session_id, "availability": availability, "activity": activity}
        if expiration is not None:
            body["expirationDuration"] = (
                format_duration(expiration) if isinstance(expiration, timedelta) else expiration
            )
        return await self._call("POST", f"/users/{user_id}/sessions", json=body)

    async def remove_session(self, user_id: str, session_id: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/users/{user_id}/sessions/{session_id}")

    async def patch_user(
        self,
        user_id: str,
        *,
        out_of_office: Mapping[str, Any] | None = None,
        work_location: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Set out-of-office ({"isOutOfOffice", "message"}) and/or work location ({"workLocationType"..})."""
        body: dict[str, Any] = {}
        if out_of_office is not None:
            body["outOfOffice"] = dict(out_of_office)
        if work_location is not None:
            body["workLocation"] = dict(work_location)
        return await self._call("PATCH", f"/users/{user_id}", json=body)

    async def user_state(self, user_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/users/{user_id}/state")

    # --- groups ---

    async def groups(self) -> list[dict[str, Any]]:
        """Every group: {"id", "displayName", "members": [object ids of its direct members]}."""
        return (await self._call("GET", "/groups"))["value"]

    async def seed_groups(self, groups: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add groups, each {"displayName", "id"?, "members"?: [user or group ids]}, all or none; members
        may name groups seeded in the same call (nesting, even cycles). Returns them with ids."""
        body = {"groups": [dict(g) for g in groups]}
        return (await self._call("POST", "/groups", json=body))["value"]

    async def set_group_members(self, group_id: str, members: Iterable[str]) -> dict[str, Any]:
        """Replace a group's direct members; returns the group."""
        return await self._call("PUT", f"/groups/{group_id}/members", json={"members": list(members)})

    # --- service principals and app role grants ---

    async def service_principals(self) -> list[dict[str, Any]]:
        """Every service principal: {"id", "appId", "displayName", "servicePrincipalType", "appRoles"}."""
        return (await self._call("GET", "/servicePrincipals"))["value"]

    async def seed_service_principals(self, sps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add service principals, each {"displayName", "id"?, "appId"?, "servicePrincipalType"?
        ("ManagedIdentity" by default, or "Application"), "appRoles"?: [{"id", "value", ...}]}."""
        body = {"servicePrincipals": [dict(sp) for sp in sps]}
        return (await self._call("POST", "/servicePrincipals", json=body))["value"]

    async def app_role_assignments(
        self, *, principal_id: str | None = None, resource_id: str | None = None
    ) -> list[dict[str, Any]]:
        """App roles granted (Graph's appRoleAssignment shape plus "appRoleValue"), oldest first."""
        params = {k: v for k, v in (("principalId", principal_id), ("resourceId", resource_id)) if v}
        return (await self._call("GET", "/appRoleAssignments", params=params))["value"]

    async def grant_app_role(self, principal_id: str, resource_id: str, app_role_id: str) -> dict[str, Any]:
        """A grant that already exists (made elsewhere): not journaled."""
        body = {"principalId": principal_id, "resourceId": resource_id, "appRoleId": app_role_id}
        return await self._call("POST", "/appRoleAssignments", json=body)

    # --- permissions and reset ---

    async def permissions(self) -> list[str]:
        return (await self._call("GET", "/permissions"))["roles"]

    async def set_permissions(self, roles: Iterable[str]) -> list[str]:
        return (await self._call("PUT", "/permissions", json={"roles": list(roles)}))["roles"]

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    # --- the user themselves ---

    async def set_status_message_as_user(self, user_id: str, content: str) -> None:
        """What the user does in Teams: set their own status message, through /v1.0/me with a delegated
        token (so it is journaled like any Graph call, from another app)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        claims = {"appid": TEAMS_CLIENT_APP_ID, "scp": "Presence.ReadWrite", "oid": user_id}
        token = ".".join(_b64url(part) for part in ({"alg": "none"}, claims)) + "."
        url = f"{self.base_url}/v1.0/me/presence/setStatusMessage"
        body = {"statusMessage": {"message": {"content": content, "contentType": "text"}}}
        headers = {"Authorization": f"Bearer {token}"}
        async with self._session.post(url, json=body, headers=headers) as response:
            if response.status >= 400:
                raise EmulatorControlError(response.status, await response.json(content_type=None))

    # --- plumbing ---

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/_emulator{path}"
        async with self._session.request(method, url, json=json, params=params) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            if response.status >= 400:
                raise EmulatorControlError(response.status, body)
            return body
