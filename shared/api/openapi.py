"""OpenAPI 2.0 (Swagger), the version Power Automate custom connectors import, generated from the
operation catalog and the same pydantic models that validate requests; and the connector's connection
properties (apiProperties.json), which must agree with its security."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from shared.api.models import HOLD_LIMIT, PREFIXED, Problem
from shared.api.operations import AFTER, CATALOG, TEST_CONNECTION, Operation, Param
from shared.platform.config import Settings

_REF = "#/definitions/{model}"
# connector/apiDefinition.swagger.json names this host; a connection's Host parameter replaces it (the
# dynamichosturl policy), so importing needs no editing.
CONNECTOR_HOST = "your-function-app.azurewebsites.net"
DEFAULT_MAX_HOLD_DAYS: int = Settings.model_fields["max_hold_days"].default
LOGIN = "https://login.microsoftonline.com"
BASE_PATH = "/api"  # the Functions host's route prefix (host.json)


@dataclass(frozen=True)
class Publisher:
    """Who publishes the connector (certification wants the publisher's own name, website, privacy policy
    and contact). The defaults are placeholders: scripts/generate-connector takes a deployment's own."""

    name: str = "Your organization"
    website: str = "https://your-organization.example/"
    privacy: str = "https://your-organization.example/privacy"
    email: str = "presence-admins@your-organization.example"


@dataclass(frozen=True)
class EntraApp:
    """The Entra variant's sign-in: the tenant, the API's Application ID URI (its resource, one of
    ENTRA_AUDIENCES) and the connector's own app registration (None: the maker enters it at import)."""

    tenant: str = "common"
    resource: str = "api://presence-automation"
    client_id: str | None = None


CallerAuth = Literal["function-key", "entra"]
_SCHEME = {"function-key": "apiKey", "entra": "oauth2"}


def _security(caller_auth: CallerAuth, tenant: str) -> tuple[str, dict[str, Any]]:
    """How callers authenticate, as Power Automate imports it: the function key, or (CALLER_AUTH=entra) an
    Entra token through the connector's "Azure Active Directory" identity provider: authorize and token
    endpoints of one authority and tenant, the same apiProperties.json names."""
    if caller_auth == "function-key":
        return _SCHEME[caller_auth], {"type": "apiKey", "in": "header", "name": "x-functions-key"}
    return _SCHEME[caller_auth], {
        "type": "oauth2",
        "flow": "accessCode",
        "authorizationUrl": f"{LOGIN}/{tenant}/oauth2/authorize",
        "tokenUrl": f"{LOGIN}/{tenant}/oauth2/token",
        "scopes": {},
    }


_UNAUTHENTICATED = {
    "function-key": {"description": "No function key, or a wrong one (the Functions host answers, no body)"},
    "entra": {
        "description": "Not signed in, or a token of another tenant or audience",
        "schema": {"$ref": "#/definitions/Problem"},
    },
}


def swagger(
    host: str | None,
    scheme: str = "https",
    caller_auth: CallerAuth = "function-key",
    *,
    max_hold_days: int = DEFAULT_MAX_HOLD_DAYS,
    tenant: str = EntraApp.tenant,
    publisher: Publisher = Publisher(),
) -> dict[str, Any]:
    """The document for CALLER_AUTH `caller_auth`: the same operations, the matching security; a hold's
    longest duration is the deployment's MAX_HOLD_DAYS."""
    definitions: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in CATALOG:
        path = paths.setdefault(f"/{op.route}", {})
        path[op.method.lower()] = _operation(op, definitions, caller_auth)
        if op.notification is not None:  # what the trigger's flow receives, per change
            path["x-ms-notification-content"] = {
                "description": op.notification.__doc__ or op.summary,
                "schema": {"$ref": _add_model(op.notification, definitions, "serialization")},
            }
    scheme_name, security = _security(caller_auth, tenant)
    _add_model(Problem, definitions, "serialization")
    _set_hold_limit(definitions, max_hold_days)
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {
            "title": "Presence Automation",  # a connector's name: at most 30 characters
            "description": (
                "Hold, schedule and watch people's presence and status messages in Microsoft Teams through "
                "your organization's own presence automation service: renewed past Graph's limits, "
                "audited, and a trigger when a presence changes."
            ),
            "version": "1.0",
            "contact": {"name": publisher.name, "url": publisher.website, "email": publisher.email},
        },
        "basePath": BASE_PATH,
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json", "application/problem+json"],
        "securityDefinitions": {scheme_name: security},
        "paths": paths,
        "definitions": dict(sorted(_referenced(paths, definitions).items())),
        "x-ms-capabilities": {
            "testConnection": {"operationId": TEST_CONNECTION.operation_id, "parameters": {}}
        },
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": publisher.website},
            {"propertyName": "Privacy policy", "propertyValue": publisher.privacy},
            {"propertyName": "Categories", "propertyValue": "Productivity;Communication"},
        ],
    }
    if host:
        doc["host"] = host
    _title_case_labels(doc)
    return doc


def _operation(op: Operation, definitions: dict[str, Any], caller_auth: str) -> dict[str, Any]:
    params = [_param(p, "path") for p in op.path_params]
    params += [_param(p, "query") for p in op.query_params] + [_param(p, "header") for p in op.header_params]
    if op.body is not None:
        params.append(
            {
                "name": "body",
                "in": "body",
                "required": True,
                "x-ms-summary": "Request",
                "description": "The request, as JSON.",
                "schema": {"$ref": _add_model(op.body, definitions)},
            }
        )
    success: dict[str, Any] = {"description": "OK" if op.status == 200 else "Done"}
    if op.status == 201:  # Power Automate deletes a webhook trigger's subscription at this URL
        success["headers"] = {"Location": {"type": "string", "description": "The URL of what was created."}}
    if op.response is not None:
        success["schema"] = {"$ref": _add_model(op.response, definitions, "serialization")}
    elif op.status == 200:
        success["schema"] = {"type": "object"}
    problem = {"$ref": _REF.format(model=Problem.__name__)}
    responses: dict[str, Any] = {
        str(op.status): success,
        "default": {"description": "Problem", "schema": problem},
        **({} if op.anonymous else {"401": _UNAUTHENTICATED[caller_auth]}),
    }
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
    }
    doc["security"] = [] if op.anonymous else [{_SCHEME[caller_auth]: []}]
    if op.notification is not None:
        doc["x-ms-trigger"] = "single"
        doc["x-ms-trigger-hint"] = "To see it work, change a watched user's presence in Teams."
    if AFTER in op.query_params:  # the designer follows nextLink when the flow turns pagination on
        doc["x-ms-pageable"] = {"nextLinkName": "nextLink"}
    if op.visibility is not None:
        doc["x-ms-visibility"] = op.visibility
    return doc


def _param(p: Param, where: str) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": p.name,
        "in": where,
        "required": where == "path" or p.required,
        **p.schema,
        "x-ms-summary": p.summary,
        "description": p.description,
    }
    if p.visibility is not None:
        param["x-ms-visibility"] = p.visibility
    return param


def _add_model(
    model: type[BaseModel],
    definitions: dict[str, Any],
    mode: Literal["validation", "serialization"] = "validation",
) -> str:
    """`model` and the models it uses as definitions (a response's in serialization mode, so that computed
    fields are described). A field marked PREFIXED refers to a copy of its model whose labels start with
    the field's: the same labels twice in one output would be indistinguishable in the designer."""
    schema = model.model_json_schema(by_alias=True, ref_template=_REF, mode=mode)
    found = {name: _to_swagger(sub) for name, sub in schema.pop("$defs", {}).items()}
    found[model.__name__] = _to_swagger(schema)
    for name, node in list(found.items()):
        for field, prop in node.get("properties", {}).items():
            prefix = prop.pop(PREFIXED, None)
            if prefix is None:
                continue
            labelled = copy.deepcopy(found[prop["$ref"].rsplit("/", 1)[1]])
            for sub in labelled.get("properties", {}).values():
                sub["x-ms-summary"] = f"{prefix} {sub['x-ms-summary']}"
            copy_name = f"{name}{field[0].upper()}{field[1:]}"
            found[copy_name] = labelled
            prop["$ref"] = _REF.format(model=copy_name)
    definitions.update(found)
    return _REF.format(model=model.__name__)


def _set_hold_limit(definitions: dict[str, Any], max_hold_days: int) -> None:
    """A hold's duration field: at most the deployment's MAX_HOLD_DAYS, stated where the maker reads it."""
    for node in walk(definitions):
        if node.pop(HOLD_LIMIT, None):
            node["maximum"] = max_hold_days * 24 * 60
            node["description"] += f" At most {max_hold_days} days ({node['maximum']} minutes)."


def _referenced(paths: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The definitions the paths use, directly or through each other (a model copied with prefixed labels
    may no longer be used as itself)."""
    used: set[str] = set()
    todo = [paths]
    while todo:
        for node in walk(todo.pop()):
            name = node.get("$ref", "").removeprefix("#/definitions/")
            if name and name not in used:
                used.add(name)
                todo.append(definitions[name])
    return {name: schema for name, schema in definitions.items() if name in used}


_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
_ACRONYMS = {"id": "ID", "url": "URL", "upn": "UPN"}


def title_case(label: str) -> str:
    """A label as Power Automate's guidance writes x-ms-summary: "Duration (Minutes)", "User ID"."""
    words = []
    for i, word in enumerate(label.split(" ")):
        core = word.strip("()")
        if core.lower() in _ACRONYMS:
            core = _ACRONYMS[core.lower()]
        elif i > 0 and core in _SMALL_WORDS:
            pass
        else:
            core = core[:1].upper() + core[1:]
        words.append(re.sub(r"[^()]+", core, word, count=1) if core else word)
    return " ".join(words)


def _title_case_labels(doc: dict[str, Any]) -> None:
    for node in walk(doc):
        if isinstance(node.get("x-ms-summary"), str):
            node["x-ms-summary"] = title_case(node["x-ms-summary"])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def _to_swagger(node: Any) -> Any:
    """JSON Schema 2020-12 (pydantic) -> the Swagger 2.0 subset: nullable unions become x-nullable,
    `const` an enum, `$ref` stands alone."""
    if isinstance(node, list):
        return [_to_swagger(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    options = node.get("anyOf")
    if options and any(o.get("type") == "null" for o in options):
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            node.pop("anyOf")
            node = {**rest[0], **node, "x-nullable": True}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "default" in node and node["default"] is None:
        node.pop("default")  # Swagger 2.0 has no null: an absent default says the same
    node.pop("title", None)
    node.pop("readOnly", None)  # a computed field: always in the answer, so required, which readOnly excludes
    if "$ref" in node:  # a $ref stands alone; PREFIXED (with the field's label) is for _add_model
        return {"$ref": node["$ref"], **({PREFIXED: node["x-ms-summary"]} if node.get(PREFIXED) else {})}
    out = {k: _to_swagger(v) for k, v in node.items() if k != "properties"}
    if "properties" in node:
        out["properties"] = {k: _to_swagger(v) for k, v in node["properties"].items()}
    return out


def connector_definition(
    caller_auth: CallerAuth = "function-key",
    publisher: Publisher = Publisher(),
    entra: EntraApp = EntraApp(),
) -> str:
    """apiDefinition.swagger.json: the served document for CONNECTOR_HOST, as checked in."""
    document = swagger(CONNECTOR_HOST, caller_auth=caller_auth, tenant=entra.tenant, publisher=publisher)
    return json.dumps(document, indent=2) + "\n"


def api_properties(
    caller_auth: CallerAuth = "function-key",
    publisher: Publisher = Publisher(),
    entra: EntraApp = EntraApp(),
) -> str:
    """apiProperties.json: the connection a maker creates (the Function App's host, and its function key or
    an Entra sign-in), the dynamichosturl policy that sends every call to that host, and the policy that
    keeps nextLink pointing through the connector."""
    host = {
        "type": "string",
        "uiDefinition": {
            "displayName": "Host",
            "description": "The Function App's host name, e.g. presence-func-abc123.azurewebsites.net.",
            "tooltip": "The host name in the Function App's URL, without https://.",
            "constraints": {"tabIndex": 1, "required": "true"},
        },
    }
    if caller_auth == "function-key":
        credential: dict[str, Any] = {
            "api_key": {
                "type": "securestring",
                "uiDefinition": {
                    "displayName": "Function key",
                    "description": "A function key of the Function App (Azure portal: the app, App keys).",
                    "tooltip": "Sent as the x-functions-key header on every call.",
                    "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
                },
            }
        }
    else:
        credential = {
            "token": {
                "type": "oauthSetting",
                "oAuthSettings": {
                    "identityProvider": "aad",
                    "clientId": entra.client_id,
                    "scopes": [f"{entra.resource}/user_impersonation"],
                    "redirectMode": "Global",
                    "redirectUrl": "https://global.consent.azure-apim.net/redirect",
                    "properties": {"IsFirstParty": "False"},
                    "customParameters": {
                        "loginUri": {"value": LOGIN},
                        "tenantId": {"value": entra.tenant},
                        "resourceUri": {"value": entra.resource},
                    },
                },
            }
        }
    paged = [op.operation_id for op in CATALOG if AFTER in op.query_params]
    properties = {
        "properties": {
            "connectionParameters": {"host": host, **credential},
            "iconBrandColor": ICON_COLOR,
            "capabilities": ["actions", "triggers"],
            "policyTemplateInstances": [
                {
                    "templateId": "dynamichosturl",
                    "title": "The deployment's host",
                    "parameters": {
                        "x-ms-apimTemplateParameter.urlTemplate": f"https://@connectionParameters('host'){BASE_PATH}"
                    },
                },
                {
                    "templateId": "updatenextlink",
                    "title": "Next pages through the connector",
                    "parameters": {
                        "x-ms-apimTemplate-operationName": paged,
                        "x-ms-apimTemplateParameter.nextLinkPropertyName": "nextLink",
                    },
                },
            ],
            "publisher": publisher.name,
            "stackOwner": publisher.name,
        }
    }
    return json.dumps(properties, indent=2) + "\n"


ICON_COLOR = "#464EB8"  # the icon's background and the connector's brand colour (not white)


if __name__ == "__main__":  # scripts/generate-connector
    print(connector_definition(), end="")
