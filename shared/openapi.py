"""OpenAPI 2.0 (Swagger), the version Power Automate custom connectors import, generated from the
operation catalog and the same pydantic models that validate requests."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from shared.models import Problem
from shared.operations import CATALOG, Operation, Param

_REF = "#/definitions/{model}"
# connector/apiDefinition.swagger.json names this host; the maker sets the real one when importing.
CONNECTOR_HOST = "your-function-app.azurewebsites.net"


# How callers authenticate, as Power Automate imports it: the function key, or (CALLER_AUTH=entra) an Entra
# token through the connector's OAuth 2.0 "Azure Active Directory" identity provider, whose Swagger form
# is this securityDefinition (the maker fills in client id, secret and resource URL at import).
_SECURITY = {
    "function-key": ("apiKey", {"type": "apiKey", "in": "header", "name": "x-functions-key"}),
    "entra": (
        "oauth2",
        {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://login.microsoftonline.com/common/oauth2/authorize",
            "tokenUrl": "https://login.windows.net/common/oauth2/authorize",
            "scopes": {},
        },
    ),
}
_UNAUTHENTICATED = {
    "function-key": {"description": "No function key, or a wrong one (the Functions host answers, no body)"},
    "entra": {
        "description": "Not signed in, or a token of another tenant or audience",
        "schema": {"$ref": "#/definitions/Problem"},
    },
}


def swagger(host: str | None, scheme: str = "https", caller_auth: str = "function-key") -> dict[str, Any]:
    """The document for CALLER_AUTH `caller_auth`: the same operations, the matching security."""
    definitions: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in CATALOG:
        path = paths.setdefault(f"/{op.route}", {})
        path[op.method.lower()] = _operation(op, definitions, caller_auth)
        if op.notification is not None:  # what the trigger's flow receives, per change
            path["x-ms-notification-content"] = {
                "description": op.notification.__doc__ or op.summary,
                "schema": {"$ref": _add_model(op.notification, definitions)},
            }
    scheme_name, security = _SECURITY[caller_auth]
    _add_model(Problem, definitions)
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {
            "title": "Teams presence",  # a connector's name: at most 30 characters
            "description": (
                "Read and set Microsoft Teams presence and status messages, now or on a schedule."
            ),
            "version": "1.0",
        },
        "basePath": "/api",
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json", "application/problem+json"],
        "securityDefinitions": {scheme_name: security},
        "paths": paths,
        "definitions": dict(sorted(definitions.items())),
        "x-ms-connector-metadata": [
            {
                "propertyName": "Website",
                "propertyValue": "https://learn.microsoft.com/graph/api/resources/presence",
            },
            {
                "propertyName": "Privacy policy",
                "propertyValue": "https://privacy.microsoft.com/privacystatement",
            },
            {"propertyName": "Categories", "propertyValue": "Productivity;Communication"},
        ],
    }
    if host:
        doc["host"] = host
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
        success["schema"] = {"$ref": _add_model(op.response, definitions)}
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
    doc["security"] = [] if op.anonymous else [{_SECURITY[caller_auth][0]: []}]
    if op.notification is not None:
        doc["x-ms-trigger"] = "single"
        doc["x-ms-trigger-hint"] = "To see it work, change a watched user's presence in Teams."
    if op.visibility is not None:
        doc["x-ms-visibility"] = op.visibility
    return doc


def _param(p: Param, where: str) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": p.name,
        "in": where,
        "required": where == "path",
        "type": "string",
        "x-ms-summary": p.summary,
        "description": p.description,
    }
    if p.visibility is not None:
        param["x-ms-visibility"] = p.visibility
    return param


def _add_model(model: type[BaseModel], definitions: dict[str, Any]) -> str:
    schema = model.model_json_schema(by_alias=True, ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        definitions[name] = _to_swagger(sub)
    definitions[model.__name__] = _to_swagger(schema)
    return _REF.format(model=model.__name__)


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
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    out = {k: _to_swagger(v) for k, v in node.items() if k != "properties"}
    if "properties" in node:
        out["properties"] = {k: _to_swagger(v) for k, v in node["properties"].items()}
    return out


def connector_definition() -> str:
    """connector/apiDefinition.swagger.json: the served document for CONNECTOR_HOST, as checked in."""
    return json.dumps(swagger(CONNECTOR_HOST), indent=2) + "\n"


if __name__ == "__main__":  # scripts/generate-connector
    print(connector_definition(), end="")
