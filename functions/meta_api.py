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
    # Anonymous callers learn up or down, nothing more: which check failed is in the log (a warning).
    checks = await services().health.state()
    if all(checks.values()):
        return json_response(Health(status="ok", checks=HealthChecks(storage="ok", graph="ok")))
    retry = str(services().settings.health_check_seconds)
    raise ServiceError(503, "unhealthy", "The service is unavailable.", headers={"Retry-After": retry})


@route(bp, OPENAPI)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    # The app's own address, never the request's Host header; without one the document names no host
    # (Swagger 2.0: then it is the host that served it).
    config = services().settings
    origin = urlparse(config.public_origin or "https://")
    return json_response(swagger(origin.netloc or None, origin.scheme, config.caller_auth))
