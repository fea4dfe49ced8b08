"""OpenAPI 2.0 (Swagger), the version Power Automate custom connectors import, generated from the
operation catalog and the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.models import Problem
from shared.operations import CATALOG, Operation

_REF = "#/definitions/{model}"


def swagger(host: str | None, scheme: str = "https") -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in CATALOG:
        paths.setdefault(f"/{op.route}", {})[op.method.lower()] = _operation(op, definitions)
    _add_model(Problem, definitions)
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {
            "title": "Presence automation for Microsoft Teams",
            "description": (
                "Read and set Microsoft Teams presence and status messages, now or on a schedule."
            ),
            "version": "1.0",
        },
        "basePath": "/api",
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
        },
        "paths": paths,
        "definitions": dict(sorted(definitions.items())),
    }
    if host:
        doc["host"] = host
    return doc


def _operation(op: Operation, definitions: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": p.name,
            "in": "path",
            "required": True,
            "type": "string",
            "x-ms-summary": p.summary,
            "description": p.description,
        }
        for p in op.path_params
    ]
    params += [
        {
            "name": p.name,
            "in": where,
            "required": False,
            "type": "string",
            "x-ms-summary": p.summary,
            "description": p.description,
        }
        for where, group in (("query", op.query_params), ("header", op.header_params))
        for p in group
    ]
    if op.body is not None:
        params.append(
            {
                "name": "body",
                "in": "body",
                "required": True,
                "schema": {"$ref": _add_model(op.body, definitions)},
            }
        )
    success: dict[str, Any] = {"description": "OK" if op.status == 200 else "Done"}
    if op.response is not None:
        success["schema"] = {"$ref": _add_model(op.response, definitions)}
    elif op.status == 200:
        success["schema"] = {"type": "object"}
    problem = {"$ref": _REF.format(model=Problem.__name__)}
    responses: dict[str, Any] = {
        str(op.status): success,
        "default": {"description": "Problem", "schema": problem},
    }
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
    }
    if op.anonymous:
        doc["security"] = []
    else:
        doc["security"] = [{"apiKey": []}]
    return doc


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
    node.pop("title", None)
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    out = {k: _to_swagger(v) for k, v in node.items() if k != "properties"}
    if "properties" in node:
        out["properties"] = {k: _to_swagger(v) for k, v in node["properties"].items()}
    return out
