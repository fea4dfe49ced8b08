"""Meta routes: health and the OpenAPI description (anonymous), and the lists that fill the connector's
drop-downs (time zones, the activities that go with an availability)."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.api.auth import authorize
from shared.api.http import json_response, route
from shared.api.models import ActivityChoice, ActivityList, Health, HealthChecks, TimeZoneChoice, TimeZoneList
from shared.api.openapi import swagger
from shared.api.operations import HEALTH, LIST_ACTIVITIES, LIST_TIME_ZONES, OPENAPI
from shared.app import services
from shared.platform.errors import INVALID_REQUEST, UNHEALTHY
from shared.platform.timezones import zone_choices
from shared.presence.rules import readable, settable_activities

bp = func.Blueprint()


@route(bp, HEALTH)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    # Anonymous callers learn up or down, nothing more: which check failed is in the log (a warning).
    checks = await services().health.state()
    if all(checks.values()):
        return json_response(Health(status="ok", checks=HealthChecks(storage="ok", graph="ok")))
    retry = str(services().settings.health_check_seconds)
    raise UNHEALTHY("The service is unavailable.", retry_after=retry)


@route(bp, OPENAPI)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    # The app's own address, never the request's Host header; without one the document names no host
    # (Swagger 2.0: then it is the host that served it).
    config = services().settings
    origin = urlparse(config.public_origin or "https://")
    limits = {"max_hold_days": config.max_hold_days, "tenant": config.entra_tenant_id or "common"}
    return json_response(swagger(origin.netloc or None, origin.scheme, config.caller_auth, **limits))


@route(bp, LIST_TIME_ZONES)
async def list_time_zones(req: func.HttpRequest) -> func.HttpResponse:
    await authorize(req, LIST_TIME_ZONES, services())
    zones = [TimeZoneChoice(id=name, name=f"{name} ({iana})") for name, iana in zone_choices()]
    return json_response(TimeZoneList(value=zones))


@route(bp, LIST_ACTIVITIES)
async def list_activities(req: func.HttpRequest) -> func.HttpResponse:
    await authorize(req, LIST_ACTIVITIES, services())
    kind = req.params.get("kind")
    if kind not in {"session", "preferred"}:
        raise INVALID_REQUEST("session or preferred.", field="kind")
    activities = settable_activities(kind, req.params.get("availability") or "")
    return json_response(
        ActivityList(value=[ActivityChoice(activity=a, name=readable(a)) for a in activities])
    )
