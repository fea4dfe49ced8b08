"""msgraph-sdk itself against the emulator: what reaches the wire, and how the SDK behaves on a 429.

These pin facts the gateway depends on: kiota writes a `timedelta` expirationDuration as str(timedelta)
("1:00:00"), which is not ISO 8601 and which Graph refuses; an ISO 8601 string passes through unchanged;
the retry middleware makes 1 + 3 attempts on 429 and treats `Retry-After: 0` as "no header", falling back
to its back-off (3 s base delay plus exponential back-off plus up to 1 s of jitter).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from kiota_http.middleware import retry_handler
from msgraph import GraphServiceClient
from msgraph.generated.communications.get_presences_by_user_id import (
    get_presences_by_user_id_post_request_body,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.presence.set_presence.set_presence_post_request_body import (
    SetPresencePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from localdev.graph import ALICE_ID, BOB_ID, LOOPBACK_APP_ID
from tests.emulator.conftest import APP_TOKEN


class StaticToken:
    """An AsyncTokenCredential handing out the unsigned loopback JWT, recording the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(APP_TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticToken:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


@pytest.fixture
def credential() -> StaticToken:
    return StaticToken()


@pytest.fixture
async def sdk(server, control, credential) -> AsyncIterator[GraphServiceClient]:
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
    client.request_adapter.base_url = str(server.make_url("/v1.0"))
    yield client
    await client.request_adapter._http_client.aclose()


@pytest.fixture
def retry_sleeps(monkeypatch) -> list[float]:
    """The waits the SDK's retry handler asks for, recorded instead of slept (the test stays fast)."""
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(retry_handler, "asyncio", SimpleNamespace(sleep=record))
    return sleeps


def set_presence_body(expiration: Any) -> SetPresencePostRequestBody:
    return SetPresencePostRequestBody(
        session_id=LOOPBACK_APP_ID, availability="Busy", activity="InACall", expiration_duration=expiration
    )


async def test_a_timedelta_expiration_reaches_the_wire_as_h_mm_ss_and_is_refused(sdk, control):
    with pytest.raises(ODataError) as caught:
        await sdk.users.by_user_id(ALICE_ID).presence.set_presence.post(set_presence_body(timedelta(hours=1)))
    [entry] = await control.journal(path="/setPresence")
    assert entry.body == {
        "sessionId": LOOPBACK_APP_ID,
        "availability": "Busy",
        "activity": "InACall",
        "expirationDuration": "1:00:00",
    }
    assert (entry.status, caught.value.response_status_code, caught.value.error.code) == (
        400,
        400,
        "BadRequest",
    )


async def test_an_iso8601_string_expiration_passes_through_unchanged(sdk, control):
    await sdk.users.by_user_id(ALICE_ID).presence.set_presence.post(set_presence_body("PT1H"))
    [entry] = await control.journal(path="/setPresence")
    assert (entry.body["expirationDuration"], entry.status) == ("PT1H", 200)
    assert entry.headers["Content-Type"] == "application/json"
    assert (await control.user_state(ALICE_ID))["sessions"][0]["expiresAt"] == "2026-11-23T10:00:00Z"


async def test_get_presences_by_user_id_through_the_sdk(sdk, control):
    await control.add_session(BOB_ID, "teams-desktop", "Busy", "InAMeeting")
    body = get_presences_by_user_id_post_request_body.GetPresencesByUserIdPostRequestBody(
        ids=[ALICE_ID, BOB_ID]
    )
    answer = await sdk.communications.get_presences_by_user_id.post(body)
    assert [(p.id, p.availability, p.activity) for p in answer.value] == [
        (ALICE_ID, "Offline", "Offline"),
        (BOB_ID, "Busy", "InAMeeting"),
    ]
    [entry] = await control.journal()
    assert (entry.method, entry.path, entry.body) == (
        "POST",
        "/v1.0/communications/getPresencesByUserId",
        {"ids": [ALICE_ID, BOB_ID]},
    )


async def test_get_user_by_upn_through_the_sdk(sdk, control):
    config = UserItemRequestBuilder.UserItemRequestBuilderGetRequestConfiguration(
        query_parameters=UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName"]
        )
    )
    user = await sdk.users.by_user_id("alice@contoso.test").get(request_configuration=config)
    assert (user.id, user.user_principal_name, user.display_name) == (
        ALICE_ID,
        "alice@contoso.test",
        "Alice Adams",
    )
    [entry] = await control.journal()
    assert (entry.path, entry.query) == (
        "/v1.0/users/alice@contoso.test",
        {"$select": "id,displayName,userPrincipalName"},
    )


async def test_the_sdk_asks_for_the_default_scope_and_sends_the_token(sdk, control, credential):
    await sdk.users.by_user_id(ALICE_ID).presence.get()
    assert credential.scopes == [("https://graph.microsoft.com/.default",)]
    [entry] = await control.journal()
    assert entry.status == 200  # the emulator saw a valid bearer token (and the journal hides it)
    assert "Authorization" not in entry.headers


async def test_on_429_with_retry_after_0_the_sdk_tries_four_times_with_backoff_then_raises(
    sdk, control, retry_sleeps
):
    await control.fault("*/presence", status=429, count=10, retry_after=0)
    with pytest.raises(ODataError) as caught:
        await sdk.users.by_user_id(ALICE_ID).presence.get()
    attempts = await control.journal(path="/presence")
    assert [e.status for e in attempts] == [429, 429, 429, 429]
    assert [e.headers.get("Retry-Attempt") for e in attempts] == [None, "1", "2", "3"]
    error = caught.value
    assert error.response_status_code == 429
    assert error.response_headers["retry-after"] == "0"
    assert error.response_headers["request-id"] == attempts[-1].request_id
    assert error.error.code == "TooManyRequests"
    # Retry-After: 0 is read as "no Retry-After": back-off of 3 s + 0.5 * 2**(n-1) + up to 1 s of jitter.
    assert len(retry_sleeps) == 3
    for sleep, base in zip(retry_sleeps, (3.25, 3.5, 4.0), strict=True):
        assert base <= sleep <= base + 1


async def test_on_429_with_retry_after_the_sdk_waits_exactly_that(sdk, control, retry_sleeps):
    await control.fault("*/presence", status=429, count=10, retry_after=2)
    with pytest.raises(ODataError):
        await sdk.users.by_user_id(ALICE_ID).presence.get()
    assert retry_sleeps == [2, 2, 2]
    assert len(await control.journal(path="/presence")) == 4


async def test_a_single_429_is_retried_transparently(sdk, control, retry_sleeps):
    await control.fault("*/setPresence", status=429, count=1, retry_after=1)
    await sdk.users.by_user_id(ALICE_ID).presence.set_presence.post(set_presence_body("PT5M"))
    assert [e.status for e in await control.journal(path="/setPresence")] == [429, 200]
    assert retry_sleeps == [1]


@pytest.mark.parametrize(("status", "attempts"), [(429, 4), (503, 4), (504, 4), (500, 1), (403, 1)])
async def test_the_sdk_retries_429_503_and_504_only(sdk, control, retry_sleeps, status, attempts):
    await control.fault("*/presence", status=status, count=10)
    with pytest.raises(ODataError) as caught:
        await sdk.users.by_user_id(ALICE_ID).presence.get()
    assert caught.value.response_status_code == status
    assert len(await control.journal(path="/presence")) == attempts


async def test_a_retry_after_of_180_seconds_or_more_is_not_waited_for(sdk, control, retry_sleeps):
    await control.fault("*/presence", status=429, count=10, retry_after=180)
    with pytest.raises(ODataError) as caught:
        await sdk.users.by_user_id(ALICE_ID).presence.get()
    assert caught.value.response_headers["retry-after"] == "180"
    assert (len(await control.journal(path="/presence")), retry_sleeps) == (1, [])


async def test_what_the_sdk_sends_besides_the_token(sdk, control):
    await sdk.users.by_user_id(ALICE_ID).presence.set_presence.post(set_presence_body("PT5M"))
    [entry] = await control.journal()
    sent = {name.lower(): value for name, value in entry.headers.items()}
    assert sent["accept"] == "application/json"
    assert sent["content-type"] == "application/json"
    assert sent["user-agent"].startswith("python-httpx/")
    assert "client-request-id" not in sent  # so Graph errors carry only the request-id to quote
