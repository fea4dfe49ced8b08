"""The catalog of the service's operations: route, method, models and words for each. The blueprints
register handlers from it and /api/openapi.json is generated from it, so the two cannot drift."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shared.models import Health, Presence, PresenceQuery, PresenceQueryResult


@dataclass(frozen=True)
class Param:
    name: str
    summary: str
    description: str


@dataclass(frozen=True)
class Operation:
    operation_id: str  # PascalCase: Power Automate shows it as the action's id
    method: str
    route: str  # without the /api prefix, Functions route-template syntax
    summary: str
    description: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    max_body: int = 64 * 1024
    anonymous: bool = False
    path_params: tuple[Param, ...] = field(default_factory=tuple)


USER = Param("user", "User", "The user's Entra object id (GUID) or UPN/e-mail.")

GET_PRESENCE = Operation(
    "GetPresence",
    "GET",
    "users/{user}/presence",
    "Get a user's presence",
    "Reads the user's presence from Microsoft Graph: availability, activity, status message (with its expiry "
    "when the service set it), out of office and work location.",
    "Presence",
    Presence,
    path_params=(USER,),
)
QUERY_PRESENCE = Operation(
    "QueryPresence",
    "POST",
    "presence/query",
    "Get the presence of many users",
    "Reads up to 10,000 users at once with the fewest Graph calls (650 per call). Users that cannot be read "
    "are listed in errors; the others are still answered.",
    "Presence",
    PresenceQueryResult,
    body=PresenceQuery,
    max_body=1024 * 1024,
)
HEALTH = Operation(
    "GetHealth",
    "GET",
    "health",
    "Check the service's health",
    "Checks Table storage and Microsoft Graph; 503 names the failing check. Never reveals configuration.",
    "Meta",
    Health,
    anonymous=True,
)
OPENAPI = Operation(
    "GetOpenApi",
    "GET",
    "openapi.json",
    "Get this API's OpenAPI (Swagger 2.0) description",
    "The description Power Automate imports as a custom connector.",
    "Meta",
    None,
    anonymous=True,
)

CATALOG: tuple[Operation, ...] = (GET_PRESENCE, QUERY_PRESENCE, HEALTH, OPENAPI)
