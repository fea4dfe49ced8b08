"""The one credential: managed identity in Azure (DefaultAzureCredential, honouring AZURE_CLIENT_ID for a
user-assigned identity), and a static unsigned token when Graph is the local emulator on loopback."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import DefaultAzureCredential

from shared.platform.config import Settings

GRAPH_SCOPE = "https://graph.microsoft.com/.default"

# The application id the local stack acts as. The Graph emulator expects it as `sessionId` by default,
# and the loopback token carries it as its `appid` claim, so the two always agree.
LOOPBACK_APP_ID = "5f0c2a4e-3b7d-4c1e-9a8f-2d6b1e7c4a90"


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class LoopbackTokenCredential(AsyncTokenCredential):
    """An unsigned app-only JWT for the local Graph emulator; refused by construction for any other host
    (the gateway only uses it when GRAPH_BASE_URL is loopback)."""

    def __init__(self, app_id: str) -> None:
        self._app_id = app_id

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires = int(time.time()) + 3600
        claims = {"aud": "https://graph.microsoft.com", "appid": self._app_id, "idtyp": "app", "exp": expires}
        token = f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}."
        return AccessToken(token, expires)

    async def close(self) -> None:
        return None

    async def __aexit__(self, *args: object) -> None:
        return None


def make_credential(settings: Settings) -> AsyncTokenCredential:
    if settings.graph_is_loopback:
        return LoopbackTokenCredential(settings.azure_client_id or LOOPBACK_APP_ID)
    return DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)


def storage_credential(settings: Settings) -> AsyncTokenCredential:
    """Storage by endpoint (no key) uses the managed identity; Graph on loopback does not change that."""
    return DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)


def token_app_id(token: str) -> str | None:
    """The `appid` (v1) or `azp` (v2) claim of a JWT: the application id Graph sees as the caller.
    Graph requires it as the setPresence `sessionId`. The token is not verified here: it is our own."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    app_id = claims.get("appid") or claims.get("azp")
    return str(app_id) if app_id else None
