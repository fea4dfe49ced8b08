"""Who is calling, and may they? With function keys the Functions host has already checked the key;
in `entra` mode the caller comes from App Service Authentication's principal header, denied by default."""

from __future__ import annotations

from dataclasses import dataclass

import azure.functions as func

from shared.config import Settings
from shared.errors import ServiceError

PRINCIPAL_HEADER = "x-ms-client-principal"


@dataclass(frozen=True)
class Caller:
    name: str  # what the audit trail records: "function-key", or the Entra principal (issue: caller security)


def authorize(req: func.HttpRequest, settings: Settings) -> Caller:
    if settings.caller_auth == "function-key":
        return Caller("function-key")
    if not req.headers.get(PRINCIPAL_HEADER):
        raise ServiceError(401, "unauthenticated", "Sign in with Microsoft Entra ID to call this API.")
    # Roles and per-user rules are not enabled in this version: deny every Entra caller rather than guess.
    raise ServiceError(403, "forbidden", "Entra callers are not authorized by this version of the service.")
