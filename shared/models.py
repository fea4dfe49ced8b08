"""The REST contract's shapes (api.md), as pydantic models: they validate requests, shape responses and
generate the OpenAPI description, so the three never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """camelCase on the wire, unknown fields refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def summary(text: str, description: str | None = None, **kwargs: object) -> dict[str, object]:
    """Field metadata: `x-ms-summary` is what Power Automate shows as the field's label."""
    extra = {"x-ms-summary": text}
    return {"description": description or text, "json_schema_extra": extra, **kwargs}


class Presence(ApiModel):
    user: str = Field(**summary("User", "The user as given in the request (object id or UPN)."))
    user_id: str = Field(**summary("User id", "The user's Entra object id."))
    availability: str = Field(**summary("Availability", "e.g. Available, Busy, DoNotDisturb, Away, Offline."))
    activity: str = Field(**summary("Activity", "e.g. Available, InACall, InAMeeting, Presenting, OffWork."))
    status_message: str | None = Field(None, **summary("Status message"))
    status_message_expires_at: datetime | None = Field(
        None, **summary("Status message expires at", "When the status message expires (UTC), if known.")
    )
    out_of_office: bool = Field(False, **summary("Out of office"))
    out_of_office_message: str | None = Field(None, **summary("Out of office message"))
    work_location: str | None = Field(None, **summary("Work location", "office, remote, timeOff or unknown."))
    sequence_number: str | None = Field(None, **summary("Sequence number", "Graph's version stamp."))


UserList = Annotated[
    list[Annotated[str, Field(max_length=256)]],
    Field(min_length=1, max_length=10_000, **summary("Users", "Object ids or UPNs, 1 to 10,000.")),
]


class PresenceQuery(ApiModel):
    users: UserList


class UserError(ApiModel):
    user: str = Field(**summary("User"))
    status: int = Field(**summary("Status", "The HTTP status this user alone would have had."))
    code: str = Field(**summary("Code", "A stable error code such as userNotFound or invalidUser."))
    message: str = Field(**summary("Message"))


class PresenceQueryResult(ApiModel):
    value: list[Presence] = Field(**summary("Presences"))
    errors: list[UserError] = Field(**summary("Errors", "Users that could not be read, each with why."))


CheckState = Literal["ok", "failed"]


class HealthChecks(ApiModel):
    storage: CheckState = Field(**summary("Storage"))
    graph: CheckState = Field(**summary("Graph"))


class Health(ApiModel):
    status: Literal["ok", "degraded"] = Field(**summary("Status"))
    checks: HealthChecks


class ProblemField(ApiModel):
    field: str
    message: str


class Problem(ApiModel):
    """application/problem+json (RFC 9457) with the service's stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable camelCase error code, e.g. invalidUser, userNotFound.")
    errors: list[ProblemField] | None = None
