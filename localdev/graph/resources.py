"""Graph's JSON shapes for a user, a group member, a presence, a service principal and an app role
assignment, and `$select` on a user, a service principal or a collection of directory objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from localdev.graph.clock import graph_datetime
from localdev.graph.errors import bad_request
from localdev.graph.state import (
    AppRole,
    AppRoleAssignment,
    Group,
    PresenceRecord,
    ServicePrincipal,
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


# A service principal: what the emulator returns without $select, and the further names $select may use.
DEFAULT_SP_PROPERTIES = (
    "id", "deletedDateTime", "accountEnabled", "alternativeNames", "appDisplayName", "appDescription",
    "appId", "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles", "description",
    "displayName", "keyCredentials", "oauth2PermissionScopes", "passwordCredentials", "replyUrls",
    "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags",
)  # fmt: skip
OTHER_SP_PROPERTIES = (
    "addIns", "applicationTemplateId", "disabledByMicrosoftStatus", "homepage", "info", "loginUrl",
    "logoutUrl", "notes", "notificationEmailAddresses", "preferredSingleSignOnMode",
    "preferredTokenSigningKeyThumbprint", "resourceSpecificApplicationPermissions",
    "samlSingleSignOnSettings", "tokenEncryptionKeyId", "verifiedPublisher",
)  # fmt: skip
_SP_COLLECTIONS = {
    "addIns", "alternativeNames", "appRoles", "keyCredentials", "notificationEmailAddresses",
    "oauth2PermissionScopes", "passwordCredentials", "replyUrls", "resourceSpecificApplicationPermissions",
    "servicePrincipalNames", "tags",
}  # fmt: skip
_SP_BY_LOWER = {name.lower(): name for name in DEFAULT_SP_PROPERTIES + OTHER_SP_PROPERTIES}


# A group: what Graph returns without $select (its default property set); the emulator has no value for most.
DEFAULT_GROUP_PROPERTIES = (
    "id", "deletedDateTime", "classification", "createdDateTime", "creationOptions", "description",
    "displayName", "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled",
    "mailNickname", "membershipRule", "membershipRuleProcessingState", "onPremisesDomainName",
    "onPremisesLastSyncDateTime", "onPremisesNetBiosName", "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage",
    "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions", "resourceProvisioningOptions",
    "securityEnabled", "securityIdentifier", "theme", "visibility", "onPremisesProvisioningErrors",
    "serviceProvisioningErrors",
)  # fmt: skip
_GROUP_COLLECTIONS = {
    "creationOptions", "groupTypes", "proxyAddresses", "resourceBehaviorOptions",
    "resourceProvisioningOptions", "onPremisesProvisioningErrors", "serviceProvisioningErrors",
}  # fmt: skip
# $select on a collection of directory objects (a group's members) may name a property of any member type.
_DIRECTORY_OBJECT_BY_LOWER = {
    name.lower(): name
    for name in (*DEFAULT_USER_PROPERTIES, *OTHER_USER_PROPERTIES, *DEFAULT_GROUP_PROPERTIES)
}


def parse_select(raw: str) -> list[str]:
    """$select=id,displayName -> canonical property names; an unknown name is a 400 like Graph's."""
    return _parse_select(raw, _BY_LOWER, "microsoft.graph.user")


def parse_sp_select(raw: str) -> list[str]:
    """$select on a service principal, as parse_select on a user."""
    return _parse_select(raw, _SP_BY_LOWER, "microsoft.graph.servicePrincipal")


def parse_directory_object_select(raw: str) -> list[str]:
    """$select on a collection of directory objects: a user's or a group's property names."""
    return _parse_select(raw, _DIRECTORY_OBJECT_BY_LOWER, "microsoft.graph.directoryObject")


def _parse_select(raw: str, by_lower: dict[str, str], type_name: str) -> list[str]:
    names = [part.strip() for part in raw.split(",")]
    if not raw.strip() or any(not name for name in names):
        raise bad_request(f"Invalid $select: '{raw}'.")
    canonical = []
    for name in names:
        if name.lower() not in by_lower:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
        canonical.append(by_lower[name.lower()])
    return list(dict.fromkeys(canonical))


def user_resource(user: User, select: list[str] | None, base_url: str) -> dict[str, Any]:
    context = f"{base_url}/$metadata#users/$entity"
    if select:
        context = f"{base_url}/$metadata#users({','.join(select)})/$entity"
    return {"@odata.context": context, **user_properties(user, select)}


def user_properties(user: User, select: list[str] | None) -> dict[str, Any]:
    """A user's properties: the selected ones (possibly none), or Graph's default set (`select` None)."""
    local_part = user.user_principal_name.split("@", 1)[0]
    known: dict[str, Any] = {
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.user_principal_name,
        "mail": user.mail,
        "proxyAddresses": list(user.proxy_addresses),
        "accountEnabled": True,
        "userType": "Member",
        "mailNickname": local_part,
    }
    return {
        name: known.get(name, [] if name in _COLLECTIONS else None)
        for name in (DEFAULT_USER_PROPERTIES if select is None else select)
    }


def group_properties(group: Group, select: list[str] | None) -> dict[str, Any]:
    """A (security) group's properties: the selected ones (possibly none), or Graph's default set (None)."""
    known: dict[str, Any] = {
        "id": group.id,
        "displayName": group.display_name,
        "mailEnabled": False,
        "mailNickname": "-".join(group.display_name.lower().split()) or group.id,
        "securityEnabled": True,
    }
    return {
        name: known.get(name, [] if name in _GROUP_COLLECTIONS else None)
        for name in (DEFAULT_GROUP_PROPERTIES if select is None else select)
    }


def member_resource(member: User | Group, select: list[str] | None, *, readable: bool) -> dict[str, Any]:
    """One object of a group's members, typed with @odata.type. With a $select naming properties of several
    types, each object carries those its own type has. `readable` False: the caller may not read users, and
    Graph then returns the user's type and id only, every other property null."""
    if isinstance(member, Group):
        names = [n for n in select if n in DEFAULT_GROUP_PROPERTIES] if select else None
        return {"@odata.type": "#microsoft.graph.group", **group_properties(member, names)}
    user_names = DEFAULT_USER_PROPERTIES + OTHER_USER_PROPERTIES
    names = [n for n in select if n in user_names] if select else None
    properties = user_properties(member, names)
    if not readable:
        properties = {name: member.id if name == "id" else None for name in properties}
    return {"@odata.type": "#microsoft.graph.user", **properties}


def collection_context(base_url: str, entity_set: str, select: list[str] | None) -> str:
    """A collection's @odata.context: `$metadata#users`, or `$metadata#users(id,mail)` with $select."""
    return f"{base_url}/$metadata#{entity_set}" + (f"({','.join(select)})" if select else "")


def presence_resource(
    user_id: str,
    record: PresenceRecord,
    now: datetime,
    *,
    reveal_expiry: bool,
    context: str | None,
    computed_bumps: bool = True,
    out_of_office_over_held: bool = False,
) -> dict[str, Any]:
    """A presence in Graph's shape. `reveal_expiry` is False when an app reads another user's presence:
    Graph then leaves statusMessage.expiryDateTime and publishedDateTime out."""
    shown = shown_presence(record, now, out_of_office_over_held=out_of_office_over_held)
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
            "sequenceNumber": sequence_number(record, now, computed_bumps=computed_bumps),
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


def service_principal_resource(sp: ServicePrincipal, select: list[str] | None) -> dict[str, Any]:
    """A service principal in Graph's shape (no @odata.context: the caller adds it for an entity)."""
    known: dict[str, Any] = {
        "id": sp.id,
        "accountEnabled": True,
        "alternativeNames": list(sp.alternative_names),
        "appDisplayName": sp.display_name,
        "appId": sp.app_id,
        "appRoleAssignmentRequired": False,
        "appRoles": [app_role_json(role) for role in sp.app_roles],
        "displayName": sp.display_name,
        "servicePrincipalNames": [sp.app_id],
        "servicePrincipalType": sp.service_principal_type,
    }
    return {
        name: known.get(name, [] if name in _SP_COLLECTIONS else None)
        for name in select or DEFAULT_SP_PROPERTIES
    }


def service_principals_context(base_url: str, select: list[str] | None, *, entity: bool) -> str:
    context = f"{base_url}/$metadata#servicePrincipals" + (f"({','.join(select)})" if select else "")
    return context + ("/$entity" if entity else "")


def app_role_json(role: AppRole) -> dict[str, Any]:
    return {
        "allowedMemberTypes": list(role.allowed_member_types),
        "description": role.description,
        "displayName": role.display_name,
        "id": role.id,
        "isEnabled": True,
        "origin": "Application",
        "value": role.value,
    }


def app_role_assignment_resource(
    assignment: AppRoleAssignment, principal: ServicePrincipal | None, resource: ServicePrincipal | None
) -> dict[str, Any]:
    return {
        "id": assignment.id,
        "deletedDateTime": None,
        "appRoleId": assignment.app_role_id,
        "createdDateTime": graph_datetime(assignment.created_at),
        "principalDisplayName": principal.display_name if principal is not None else None,
        "principalId": assignment.principal_id,
        "principalType": "ServicePrincipal",
        "resourceDisplayName": resource.display_name if resource is not None else None,
        "resourceId": assignment.resource_id,
    }
