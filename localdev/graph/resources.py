"""Graph's JSON shapes for a user and a presence, and `$select` on a user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from localdev.graph.clock import graph_datetime
from localdev.graph.errors import bad_request
from localdev.graph.state import (
    PresenceRecord,
    StatusMessage,
    User,
    live_status_message,
    sequence_number,
    shown_presence,
)

# What GET /users/{id} returns without $select (Graph's default property set).
DEFAULT_USER_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
    "preferredLanguage", "surname", "userPrincipalName", "id",
)  # fmt: skip
# Further user properties $select may name. The emulator has no value for most of them (null / []);
# a name outside this list is a 400, as Graph answers for a property the user type does not have.
OTHER_USER_PROPERTIES = (
    "accountEnabled", "ageGroup", "city", "companyName", "country", "createdDateTime", "creationType",
    "department", "employeeHireDate", "employeeId", "employeeType", "externalUserState", "faxNumber",
    "identities", "imAddresses", "lastPasswordChangeDateTime", "mailNickname", "onPremisesImmutableId",
    "onPremisesSamAccountName", "onPremisesUserPrincipalName", "otherMails", "postalCode",
    "preferredDataLocation", "proxyAddresses", "securityIdentifier", "showInAddressList", "state",
    "streetAddress", "usageLocation", "userType",
)  # fmt: skip
_COLLECTIONS = {"businessPhones", "identities", "imAddresses", "otherMails", "proxyAddresses"}
_BY_LOWER = {name.lower(): name for name in DEFAULT_USER_PROPERTIES + OTHER_USER_PROPERTIES}


def parse_select(raw: str) -> list[str]:
    """$select=id,displayName -> canonical property names; an unknown name is a 400 like Graph's."""
    names = [part.strip() for part in raw.split(",")]
    if not raw.strip() or any(not name for name in names):
        raise bad_request(f"Invalid $select: '{raw}'.")
    canonical = []
    for name in names:
        if name.lower() not in _BY_LOWER:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.user'.")
        canonical.append(_BY_LOWER[name.lower()])
    return list(dict.fromkeys(canonical))


def user_resource(user: User, select: list[str] | None, base_url: str) -> dict[str, Any]:
    local_part = user.user_principal_name.split("@", 1)[0]
    known: dict[str, Any] = {
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.user_principal_name,
        "mail": user.mail,
        "accountEnabled": True,
        "userType": "Member",
        "mailNickname": local_part,
    }
    names = select or list(DEFAULT_USER_PROPERTIES)
    context = f"{base_url}/$metadata#users/$entity"
    if select:
        context = f"{base_url}/$metadata#users({','.join(select)})/$entity"
    body: dict[str, Any] = {"@odata.context": context}
    for name in names:
        body[name] = known.get(name, [] if name in _COLLECTIONS else None)
    return body


def presence_resource(
    user_id: str, record: PresenceRecord, now: datetime, *, reveal_expiry: bool, context: str | None
) -> dict[str, Any]:
    """A presence in Graph's shape. `reveal_expiry` is False when an app reads another user's presence:
    Graph then leaves statusMessage.expiryDateTime and publishedDateTime out."""
    shown = shown_presence(record, now)
    body: dict[str, Any] = {"@odata.context": context} if context else {}
    body.update(
        {
            "id": user_id,
            "availability": shown.availability,
            "activity": shown.activity,
            "statusMessage": _status_message(live_status_message(record, now), reveal_expiry),
            "outOfOfficeSettings": {
                "message": record.out_of_office.message,
                "isOutOfOffice": record.out_of_office.is_out_of_office,
            },
            "workLocation": {
                "workLocationType": record.work_location.work_location_type,
                "source": record.work_location.source,
                "placeId": record.work_location.place_id,
            },
            "sequenceNumber": sequence_number(record, now),
        }
    )
    return body


def _status_message(message: StatusMessage | None, reveal_expiry: bool) -> dict[str, Any] | None:
    if message is None:
        return None
    body: dict[str, Any] = {"message": {"content": message.content, "contentType": message.content_type}}
    if reveal_expiry:
        body["expiryDateTime"] = (
            {"dateTime": _seven_digits(message.expiry_date_time), "timeZone": message.expiry_time_zone}
            if message.expiry_date_time is not None
            else None
        )
        body["publishedDateTime"] = graph_datetime(message.published_at)
    return body


def _seven_digits(local: str) -> str:
    """2026-11-23T17:00:00 -> 2026-11-23T17:00:00.0000000, Graph's dateTime form."""
    whole, _, fraction = local.partition(".")
    return f"{whole}.{fraction.ljust(7, '0')}"
