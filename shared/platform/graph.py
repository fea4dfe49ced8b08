"""PresenceGateway: the only module that talks to Microsoft Graph (through msgraph-sdk). It speaks the
service's types and turns every Graph failure into a ServiceError, in one place (`_graph_error`)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import HeadersInspectionHandlerOption, RetryHandlerOption
from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.presence_status_message import PresenceStatusMessage
from msgraph.generated.users.item.presence.clear_presence.clear_presence_post_request_body import (
    ClearPresencePostRequestBody,
)
from msgraph.generated.users.item.presence.presence_request_builder import PresenceRequestBuilder
from msgraph.generated.users.item.presence.set_presence.set_presence_post_request_body import (
    SetPresencePostRequestBody,
)
from msgraph.generated.users.item.presence.set_status_message.set_status_message_post_request_body import (
    SetStatusMessagePostRequestBody,
)
from msgraph.generated.users.item.presence.set_user_preferred_presence.set_user_preferred_presence_post_request_body import (  # noqa: E501
    SetUserPreferredPresencePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from shared.platform.budget import GraphBudget, Priority
from shared.platform.durations import iso_duration
from shared.platform.errors import (
    GRAPH_AUTHENTICATION_FAILED,
    GRAPH_ERROR,
    GRAPH_PERMISSION_MISSING,
    GRAPH_THROTTLED,
    GRAPH_UNAVAILABLE,
    GROUP_NOT_FOUND,
    USER_NOT_FOUND,
    ServiceError,
    ambiguous_user,
    user_not_found,
)
from shared.platform.retry_after import retry_after_seconds
from shared.platform.timezones import resolve_zone

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")

# Graph: getPresencesByUserId takes at most 650 ids per request.
PRESENCE_BATCH_LIMIT = 650
# Graph: a JSON batch ($batch) holds at most 20 requests.
USER_BATCH_LIMIT = 20
# Inner requests Graph answered 429/503/504 go again in a new batch, at most this many more times.
BATCH_RETRY_ROUNDS = 3
# A longer Retry-After than this (seconds) is passed on to the caller rather than waited out inside a query.
BATCH_RETRY_WAIT_LIMIT = 30
_TRANSIENT_STATUSES = frozenset({429, 503, 504})
# The longest Retry-After passed on to a caller (seconds); a longer one is clamped to it.
RETRY_AFTER_LONGEST = 3600
# Any well-formed id Graph does not know: getPresencesByUserId answers it with an empty list.
_PROBE_ID = "00000000-0000-0000-0000-000000000000"

READ_PRESENCE = "Presence.Read.All (or Presence.ReadWrite.All)"
WRITE_PRESENCE = "Presence.ReadWrite.All"
READ_USERS = "User.ReadBasic.All (or User.Read.All)"
READ_GROUPS = "GroupMember.Read.All"
# Directory reads have Graph's directory limits, not the presence budget (shared/platform/budget.py).
_UNPACED = frozenset({READ_USERS, READ_GROUPS})
# Graph: directory object lists return at most 999 per page.
GROUP_PAGE_SIZE = 999


@dataclass(frozen=True)
class GraphPresence:
    """A user's presence as Graph shows it, in the service's terms."""

    user_id: str
    availability: str
    activity: str
    status_message: str | None
    status_message_expires_at: datetime | None
    out_of_office: bool
    out_of_office_message: str | None
    work_location: str | None
    sequence_number: str | None


class PresenceGateway:
    def __init__(
        self, client: GraphServiceClient, concurrency: int, budget: GraphBudget | None = None
    ) -> None:
        self._client = client
        self._limit = asyncio.Semaphore(concurrency)
        self._budget = budget

    async def user_id_for(self, upn: str) -> str | None:
        """The object id of the user with this UPN/e-mail, or None when the directory has no such user."""
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id"])
        config = RequestConfiguration(query_parameters=query)
        try:
            user = await self._call(lambda: self._client.users.by_user_id(upn).get(config), READ_USERS)
        except ServiceError as error:
            if error.code == USER_NOT_FOUND.code:
                return None
            raise
        return user.id.lower() if user and user.id else None

    async def user_ids_for(
        self, upns: Sequence[str], *, by_mail: bool = False
    ) -> dict[str, str | ServiceError]:
        """The object id of each UPN/e-mail, or its error (`userNotFound` when the directory has no such
        user), looked up with `$batch` calls of 20 sent side by side within GRAPH_CONCURRENCY. `by_mail`:
        by `mail` or `proxyAddresses` instead of UPN (`ambiguousUser` when two users have the address).

        Inner requests Graph throttled or found unavailable go again in a new batch after the longest
        Retry-After among them (Graph's guidance for batches), at most BATCH_RETRY_ROUNDS times; then they
        keep their 429/503 as a per-user error. A `$batch` Graph failed whole with 424 (Failed Dependency)
        goes again the same way (a 503 for its users if it keeps failing). A `$batch` call Graph refused
        whole otherwise, after the SDK's own retries, gives its error to each of its users."""
        answer: dict[str, str | ServiceError] = {}
        pending = list(dict.fromkeys(upns))
        for round_number in range(BATCH_RETRY_ROUNDS + 1):
            again: dict[str, float | None] = {}
            batch = functools.partial(self._user_batch, by_mail=by_mail)
            for chunk, result in await _in_chunks(pending, USER_BATCH_LIMIT, batch):
                if isinstance(result, ServiceError):
                    answer.update(dict.fromkeys(chunk, result))
                else:
                    outcomes, retryable = result
                    answer.update(outcomes)
                    again.update(retryable)
            pending = list(again)
            if not pending or round_number == BATCH_RETRY_ROUNDS:
                break
            wait = _batch_retry_wait(again.values(), round_number)
            if wait > BATCH_RETRY_WAIT_LIMIT:
                break
            log.info("%d user lookups throttled or unavailable; again in %.0f s", len(pending), wait)
            await asyncio.sleep(wait)
        failed = sum(
            1 for a in answer.values() if isinstance(a, ServiceError) and a.code != USER_NOT_FOUND.code
        )
        if failed:
            log.warning("%d of %d user lookups failed (per-user errors)", failed, len(answer))
        return answer

    async def _user_batch(
        self, upns: Sequence[str], *, by_mail: bool = False
    ) -> tuple[dict[str, str | ServiceError], dict[str, float | None]]:
        """One `$batch` of `GET /users/{upn}` (or, `by_mail`, of `GET /users?$filter=` on the address):
        each UPN's id or error, and the UPNs worth another try (429/503/504) with Graph's Retry-After in
        seconds, when it gave one."""
        lookup_url = _mail_lookup_url if by_mail else _user_lookup_url
        requests = [
            {"id": str(number), "method": "GET", "url": lookup_url(upn)} for number, upn in enumerate(upns)
        ]
        try:
            body = await self._call(lambda: self._post_batch(requests), READ_USERS)
        except _BatchFailedWhole as failed:
            error = GRAPH_UNAVAILABLE(
                "Microsoft Graph failed the batch of user lookups whole (424 Failed Dependency).",
                retry_after=math.ceil(failed.retry_after or 10),
            )
            return dict.fromkeys(upns, error), dict.fromkeys(upns, failed.retry_after)
        responses = body.get("responses") if isinstance(body, dict) else None
        # Graph: responses may come in any order; their `id` says which request each one answers.
        by_id = {str(r.get("id")): r for r in responses or [] if isinstance(r, dict)}
        outcomes: dict[str, str | ServiceError] = {}
        retryable: dict[str, float | None] = {}
        for number, upn in enumerate(upns):
            response = by_id.get(str(number))
            if response is None:
                outcomes[upn] = GRAPH_ERROR("Microsoft Graph's batch answer left out this user's lookup.")
                continue
            status = response.get("status")
            content = response.get("body")
            if by_mail and status == 200 and isinstance(content, dict):
                found = {str(u["id"]).lower() for u in content.get("value") or [] if u.get("id")}
                if len(found) == 1:
                    outcomes[upn] = found.pop()
                else:
                    outcomes[upn] = ambiguous_user(upn) if found else user_not_found(upn)
                continue
            if status == 200 and isinstance(content, dict) and content.get("id"):
                outcomes[upn] = str(content["id"]).lower()
                continue
            outcomes[upn] = _inner_error(response, upn)
            if status in _TRANSIENT_STATUSES:
                retryable[upn] = _seconds(_lower_keys(response.get("headers")).get("retry-after"))
        return outcomes, retryable

    async def _post_batch(self, requests: list[dict[str, str]]) -> Any:
        """POST /$batch, sent like any other read (see `_send_json`; the SDK retries the envelope).
        msgraph-core's BatchRequestContent is not used: in msgraph-core 1.5.2 it imports `deprecated`, a
        package it does not declare (not installed here), and writes each request's `depends_on`, a key
        Graph does not know (Graph's is `dependsOn`)."""
        info = RequestInformation(Method.POST, "{+baseurl}/$batch", {})
        info.headers.try_add("Accept", "application/json")
        info.set_stream_content(json.dumps({"requests": requests}).encode(), "application/json")
        try:
            return await self._send_json(info)
        except APIError as exc:
            if exc.response_status_code != 424:
                raise
            headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
            raise _BatchFailedWhole(_seconds(headers.get("retry-after"))) from None

    async def _send_json(self, info: RequestInformation) -> Any:
        """Send a read through the SDK's request adapter (its token, base URL and retries of 429/503/504;
        Graph's errors raised as ODataError like any other call) and parse Graph's JSON here. Reads skip
        the SDK's models: their deserialization costs ~5 ms of CPU per presence (msgraph-sdk-python#584),
        close to a minute for a 10,000-user query."""
        raw = await self._client.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise GRAPH_ERROR("Microsoft Graph's answer was not JSON.") from None

    async def presence(self, user_id: str) -> GraphPresence:
        info = RequestInformation(Method.GET, "{+baseurl}/users/{user_id}/presence", {"user_id": user_id})
        info.headers.try_add("Accept", "application/json")
        result = await self._call(lambda: self._send_json(info), READ_PRESENCE)
        if not isinstance(result, dict):
            raise user_not_found(user_id)
        return _presence_from_json(result, user_id)

    async def presences(self, user_ids: Sequence[str]) -> dict[str, GraphPresence | ServiceError]:
        """Every requested id with its presence or its error, in chunks of 650 with bounded concurrency.
        An id Graph does not know is `userNotFound`; a chunk Graph refused carries Graph's error."""
        ids = [i.lower() for i in user_ids]
        answer: dict[str, GraphPresence | ServiceError] = {}
        for chunk, result in await _in_chunks(ids, PRESENCE_BATCH_LIMIT, self._presences_or_split):
            if isinstance(result, ServiceError):
                answer.update(dict.fromkeys(chunk, result))
            else:
                found = {p.user_id: p for p in result}
                answer.update({i: found.get(i) or user_not_found(i) for i in chunk})
        return answer

    async def group_members(self, group_id: str, limit: int) -> dict[str, str]:
        """The users in the group, nested groups included (Graph's transitiveMembers cast to users): object
        id -> UPN, page by page (999 each), stopping once more than `limit` are known (the caller refuses
        or trims a group that large; reading a million members to say so would cost a thousand calls).
        An unknown group is a 404 `groupNotFound`."""
        info = RequestInformation(
            Method.GET,
            "{+baseurl}/groups/{group_id}/transitiveMembers/microsoft.graph.user{?%24select,%24top}",
            {"group_id": group_id},
        )
        info.query_parameters.update({"%24select": ["id", "userPrincipalName"], "%24top": GROUP_PAGE_SIZE})
        members: dict[str, str] = {}
        while True:
            info.headers.try_add("Accept", "application/json")
            try:
                page = await self._call(functools.partial(self._send_json, info), READ_GROUPS)
            except ServiceError as error:
                if error.code == USER_NOT_FOUND.code:  # Graph's 404 names the resource it did not find
                    raise GROUP_NOT_FOUND(f"No group '{group_id}' exists.") from None
                raise
            page = page if isinstance(page, dict) else {}
            for user in page.get("value") or []:
                if isinstance(user, dict) and user.get("id"):
                    members[str(user["id"]).lower()] = str(user.get("userPrincipalName") or user["id"])
            next_link = page.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link or len(members) > limit:
                return members
            info = RequestInformation(Method.GET)
            info.url = next_link  # Graph's own link: absolute, its paging token inside

    # --- writes: each returns Graph's request-id (for the audit trail) -------------------------------

    async def set_session(
        self, user_id: str, session_id: str, availability: str, activity: str, expiration: timedelta
    ) -> str:
        # Graph: sessionId must be the caller's application id; one session per app and user.
        body = SetPresencePostRequestBody(
            session_id=session_id,
            availability=availability,
            activity=activity,
            expiration_duration=iso_duration(expiration),  # type: ignore[arg-type]  # see shared/platform/durations.py
        )
        return await self._write(lambda c: self._presence(user_id).set_presence.post(body, c))

    async def clear_session(self, user_id: str, session_id: str) -> str | None:
        """Graph answers 404 when this app holds no session for the user: already cleared, None."""
        body = ClearPresencePostRequestBody(session_id=session_id)
        try:
            return await self._write(lambda c: self._presence(user_id).clear_presence.post(body, c))
        except ServiceError as error:
            if error.code == USER_NOT_FOUND.code:
                return None
            raise

    async def set_preferred(
        self, user_id: str, availability: str, activity: str, expiration: timedelta
    ) -> str:
        body = SetUserPreferredPresencePostRequestBody(
            availability=availability,
            activity=activity,
            expiration_duration=iso_duration(expiration),  # type: ignore[arg-type]
        )
        return await self._write(lambda c: self._presence(user_id).set_user_preferred_presence.post(body, c))

    async def clear_preferred(self, user_id: str) -> str:
        return await self._write(lambda c: self._presence(user_id).clear_user_preferred_presence.post(c))

    async def set_status_message(self, user_id: str, message: str, expires_at: datetime | None) -> str:
        """An empty message clears it (Graph has no clear call). The expiry goes as UTC wall time with
        timeZone "UTC": Graph's dateTime carries no offset."""
        expiry = None
        if expires_at is not None:
            wall = expires_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
            expiry = DateTimeTimeZone(date_time=wall, time_zone="UTC")
        status = PresenceStatusMessage(
            message=ItemBody(content=message, content_type=BodyType.Text), expiry_date_time=expiry
        )
        body = SetStatusMessagePostRequestBody(status_message=status)
        return await self._write(lambda c: self._presence(user_id).set_status_message.post(body, c))

    def _presence(self, user_id: str) -> PresenceRequestBuilder:
        return self._client.users.by_user_id(user_id).presence

    async def _write(self, call: Callable[[RequestConfiguration], Awaitable[object]]) -> str:
        headers = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=True)
        config = RequestConfiguration(options=[headers])
        await self._call(lambda: call(config), WRITE_PRESENCE)
        request_id = headers.response_headers.get("request-id")
        return next(iter(request_id), "unknown") if request_id else "unknown"

    async def ping(self) -> None:
        """One cheap call that proves the token, the network and the presence permission. No retries:
        a health probe must answer quickly, and a flapping Graph is what it should report. Graph leaves an
        unknown id out of the answer; should it refuse the probe id instead (400, 404), it has still
        accepted the token and the permission: that is an answer too."""
        no_retry = RequestConfiguration(options=[RetryHandlerOption(max_retries=0, should_retry=False)])
        info = self._presence_request([_PROBE_ID], no_retry)

        async def probe() -> None:
            try:
                await self._send_json(info)
            except APIError as exc:
                if exc.response_status_code not in (400, 404):
                    raise

        await self._call(probe, READ_PRESENCE)

    async def _presences_or_split(self, ids: Sequence[str]) -> list[GraphPresence]:
        """The presences of one chunk of ids. Graph leaves an id it does not know out of the answer; should
        it refuse the whole call instead (a 404, undocumented either way), the chunk is split in halves
        until each unknown id stands alone, so the known users still get their answers: k unknown ids cost
        about 2k·log2(n/k) more calls, none when every id is known."""
        try:
            return await self._presence_chunk(ids)
        except ServiceError as error:
            if error.code != USER_NOT_FOUND.code:
                raise
            if len(ids) == 1:
                return []
        half = len(ids) // 2
        left, right = await asyncio.gather(
            self._presences_or_split(ids[:half]), self._presences_or_split(ids[half:])
        )
        return left + right

    async def _presence_chunk(
        self, ids: Sequence[str], config: RequestConfiguration | None = None
    ) -> list[GraphPresence]:
        info = self._presence_request(ids, config)
        response = await self._call(lambda: self._send_json(info), READ_PRESENCE)
        values = response.get("value") if isinstance(response, dict) else None
        return [_presence_from_json(p, str(p.get("id") or "")) for p in values or [] if isinstance(p, dict)]

    @staticmethod
    def _presence_request(ids: Sequence[str], config: RequestConfiguration | None) -> RequestInformation:
        info = RequestInformation(Method.POST, "{+baseurl}/communications/getPresencesByUserId", {})
        info.configure(config)
        info.headers.try_add("Accept", "application/json")
        info.set_stream_content(json.dumps({"ids": list(ids)}).encode(), "application/json")
        return info

    async def _call(self, call: Callable[[], Awaitable[T]], permission: str) -> T:
        # The presence budget is for presence calls; user lookups have the directory's own limits. The
        # SDK's retries after a 429 are not counted again: they wait out Retry-After. The budget is taken
        # before a concurrency slot, so calls waiting for it never hold one a more urgent call needs.
        if self._budget is not None and permission not in _UNPACED:
            await self._budget.spend(Priority.CHANGE if permission == WRITE_PRESENCE else Priority.READ)
        async with self._limit:
            try:
                return await call()
            except APIError as exc:
                raise _graph_error(exc, permission) from None
            except httpx.HTTPError as exc:
                log.warning("Graph unreachable: %s", type(exc).__name__)
                raise GRAPH_UNAVAILABLE("Microsoft Graph could not be reached.", retry_after=10) from None


class _BatchFailedWhole(Exception):
    """Graph answered a `$batch` with 424 Failed Dependency: none of its requests ran."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("$batch failed whole (424)")
        self.retry_after = retry_after


async def _in_chunks(
    items: Sequence[K], size: int, call: Callable[[list[K]], Awaitable[R]]
) -> list[tuple[list[K], R | ServiceError]]:
    """`call` on each chunk of `items`, concurrently; a chunk Graph refused comes back as its error."""
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    results = await asyncio.gather(*(call(chunk) for chunk in chunks), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, ServiceError):
            raise result
    return list(zip(chunks, results, strict=True))  # type: ignore[arg-type]


def _graph_error(exc: APIError, permission: str) -> ServiceError:
    """Graph's answer after the SDK's own retries, as the service's error (api.md, Errors)."""
    status = exc.response_status_code or 0
    headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
    graph_code = message = request_id = None
    if isinstance(exc, ODataError) and exc.error:
        graph_code, message = exc.error.code, exc.error.message
        request_id = exc.error.inner_error.request_id if exc.error.inner_error else None
    request_id = headers.get("request-id") or request_id or "unknown"
    log.warning("Graph answered %s %s (request-id %s)", status, graph_code, request_id)
    return _answer_error(status, headers, graph_code, request_id, permission, _target_of(message))


def _inner_error(response: Mapping[str, Any], upn: str) -> ServiceError:
    """One failed request inside a `$batch` answer, mapped as a call of its own would be (not logged one
    by one: a query may hold thousands of unknown users)."""
    status = response.get("status")
    headers = _lower_keys(response.get("headers"))
    content = response.get("body")
    error = content.get("error") if isinstance(content, dict) else None
    error = error if isinstance(error, dict) else {}
    inner = error.get("innerError") if isinstance(error.get("innerError"), dict) else {}
    request_id = headers.get("request-id") or inner.get("request-id") or "unknown"
    return _answer_error(
        status if isinstance(status, int) else 0, headers, error.get("code"), request_id, READ_USERS, upn
    )


def _answer_error(
    status: int,
    headers: Mapping[str, str],
    graph_code: str | None,
    request_id: str,
    permission: str,
    target: str,
) -> ServiceError:
    """Graph's status as the service's error (api.md, Errors): the one mapping for single calls, batch
    envelopes and the requests inside a batch. `target` names the user of a 404."""
    if status == 404:
        return user_not_found(target)
    if status == 429:
        return GRAPH_THROTTLED(
            "Microsoft Graph is throttling the service; retry later.", retry_after=_retry_after(headers, 30)
        )
    if status in (503, 504):
        return GRAPH_UNAVAILABLE(
            f"Microsoft Graph is unavailable (request-id {request_id}).",
            retry_after=_retry_after(headers, 10),
        )
    if status == 403:
        return GRAPH_PERMISSION_MISSING(
            f"Microsoft Graph refused the call: the app's identity lacks the application permission "
            f"{permission} (request-id {request_id})."
        )
    if status == 401:
        return GRAPH_AUTHENTICATION_FAILED(
            f"Microsoft Graph did not accept the app's token (request-id {request_id})."
        )
    return GRAPH_ERROR(f"Microsoft Graph answered {status} {graph_code or ''} (request-id {request_id}).")


def _retry_after(headers: Mapping[str, str], default: float) -> str:
    """The Retry-After passed on to the caller: Graph's (either form), or `default` when it gave none."""
    wait = _seconds(headers.get("retry-after"))
    return str(math.ceil(wait if wait is not None else default))


def _seconds(retry_after: str | None) -> float | None:
    # Graph's HTTP-date is on real time, as the SDK's retry handler reads it too.
    return retry_after_seconds(retry_after, datetime.now(UTC), longest=RETRY_AFTER_LONGEST)


def _lower_keys(headers: object) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


def _batch_retry_wait(retry_afters: Iterable[float | None], round_number: int) -> float:
    """How long to wait before sending a batch's throttled requests again. Graph: retry them in a new batch
    after the longest Retry-After among them; where Graph gave none, back off exponentially (1, 2, 4 s)."""
    given = list(retry_afters)
    backoff = [2.0**round_number] if any(s is None for s in given) else []
    return max([s for s in given if s is not None] + backoff)


def _user_lookup_url(upn: str) -> str:
    """The relative URL of one user lookup inside a batch. Graph (user-get): a guest's UPN holds #EXT#, and
    '#' must travel as %23; '@' may stay as it is, as in Graph's own example. The other reserved characters a
    UPN may hold (' + ! ^) are percent-encoded too. (A UPN starting with '$' would need the /users('$x@y')
    form, but parse_user admits no '$'.)"""
    return f"/users/{quote(upn, safe='@')}?$select=id,userPrincipalName"


def _mail_lookup_url(address: str) -> str:
    """The relative URL that finds the users with this e-mail address, as their `mail` or one of their
    `proxyAddresses` ("smtp:" + address; directory comparisons ignore case): a plain `$filter` (user
    resource: both support `eq`, `any` for the collection), so no ConsistencyLevel header is needed.
    Quotes in the address are doubled (OData), the filter percent-encoded."""
    literal = address.replace("'", "''")
    query = f"mail eq '{literal}' or proxyAddresses/any(x:x eq 'smtp:{literal}')"
    return f"/users?$filter={quote(query, safe='@:')}&$select=id"


def _target_of(message: str | None) -> str:
    # Graph: "Resource 'x' does not exist or one of its queried reference-property objects are not present."
    if message and "'" in message:
        return message.split("'")[1]
    return "the requested user"


def _presence_from_json(p: Mapping[str, Any], user_id: str) -> GraphPresence:
    """Graph's presence JSON (camelCase, as on the wire) in the service's terms."""
    status = _json_object(p.get("statusMessage"))
    message = _json_object(status.get("message")).get("content")
    expiry = _json_object(status.get("expiryDateTime"))
    ooo = _json_object(p.get("outOfOfficeSettings"))
    location = _json_object(p.get("workLocation")).get("workLocationType")
    return GraphPresence(
        user_id=user_id.lower(),
        availability=p.get("availability") or "PresenceUnknown",
        activity=p.get("activity") or "PresenceUnknown",
        status_message=message or None,
        status_message_expires_at=_utc(expiry["dateTime"], expiry.get("timeZone"))
        if expiry.get("dateTime")
        else None,
        out_of_office=bool(ooo.get("isOutOfOffice")),
        out_of_office_message=ooo.get("message") or None,
        work_location=location or None,
        sequence_number=p.get("sequenceNumber"),
    )


def _json_object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _utc(local: str, zone: str | None) -> datetime | None:
    """Graph's dateTimeTimeZone (no offset in dateTime, the zone beside it) as an aware UTC instant."""
    try:
        naive = datetime.fromisoformat(local.rstrip("Z"))
        zone_info = resolve_zone(zone or "UTC")
    except (ValueError, ServiceError):
        return None
    return naive.replace(tzinfo=zone_info).astimezone(UTC)
