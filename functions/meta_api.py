"""Meta routes (anonymous): health and the OpenAPI description."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.errors import ServiceError
from shared.http import json_response, route
from shared.models import Health, HealthChecks
from shared.openapi import swagger
from shared.operations import HEALTH, OPENAPI
from shared.service import services

bp = func.Blueprint()


@route(bp, HEALTH)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    checks = await services().health()
    states = {name: "ok" if ok else "failed" for name, ok in checks.items()}
    if all(checks.values()):
        return json_response(Health(status="ok", checks=HealthChecks(**states)))
    failing = ", ".join(name for name, ok in checks.items() if not ok)
    raise ServiceError(
        503, "unhealthy", f"Failing: {failing}.", headers={"Retry-After": "30"}, extensions={"checks": states}
    )


@route(bp, OPENAPI)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    # The app's own address, never the request's Host header; without one the document names no host
    # (Swagger 2.0: then it is the host that served it).
    config = services().settings
    origin = urlparse(config.public_origin or "https://")
    return json_response(swagger(origin.netloc or None, origin.scheme, config.caller_auth))
