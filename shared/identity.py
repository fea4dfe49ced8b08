"""The one credential: managed identity in Azure, a static unsigned token when Graph is the local emulator."""

from __future__ import annotations

# The application id the local stack acts as. The Graph emulator expects it as `sessionId` by default,
# and the loopback token carries it as its `appid` claim, so the two always agree.
LOOPBACK_APP_ID = "5f0c2a4e-3b7d-4c1e-9a8f-2d6b1e7c4a90"
