"""Schedule routes: create, list, read, change and cancel schedules."""

from __future__ import annotations

from urllib.parse import urlencode, urlparse

import azure.functions as func

from shared.auth import authorize
from shared.errors import invalid_field
from shared.http import json_response, no_content, parse_body, route
from shared.models import ScheduleFields, ScheduleInput, ScheduleList
from shared.operations import CANCEL_SCHEDULE, CREATE_SCHEDULE, GET_SCHEDULE, LIST_SCHEDULES, UPDATE_SCHEDULE
from shared.service import services

bp = func.Blueprint()


@route(bp, CREATE_SCHEDULE)
async def create_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, services().settings)
    body = parse_body(req, ScheduleInput)
    schedule = await services().schedules.create(caller.name, body, req.headers.get("idempotency-key"))
    return json_response(schedule, status=201, headers={"Location": f"/api/schedules/{schedule.id}"})


@route(bp, LIST_SCHEDULES)
async def list_schedules(req: func.HttpRequest) -> func.HttpResponse:
    authorize(req, services().settings)
    top = _top(req.params.get("top"))
    user, status = req.params.get("user"), req.params.get("status")
    page, last = await services().schedules.list(user, status, top, req.params.get("after"))
    next_link = None
    if last is not None:
        query = {
            k: v for k, v in (("user", user), ("status", status), ("top", str(top)), ("after", last)) if v
        }
        next_link = f"{urlparse(req.url)._replace(query=urlencode(query)).geturl()}"
    return json_response(ScheduleList(value=page, next_link=next_link))


@route(bp, GET_SCHEDULE)
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    authorize(req, services().settings)
    schedule, etag = await services().schedules.get(req.route_params["id"])
    return json_response(schedule, headers={"ETag": etag})


@route(bp, UPDATE_SCHEDULE)
async def update_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, services().settings)
    patch = parse_body(req, ScheduleFields)
    schedule, etag = await services().schedules.update(
        caller.name, req.route_params["id"], patch, req.headers.get("if-match")
    )
    return json_response(schedule, headers={"ETag": etag})


@route(bp, CANCEL_SCHEDULE)
async def cancel_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, services().settings)
    if await services().schedules.cancel(caller.name, req.route_params["id"]):
        await services().engine.settle_now(req.route_params["id"])  # an active schedule is reverted first
    return no_content()


def _top(value: str | None) -> int:
    if value is None:
        return 50
    if not value.isdigit() or not 1 <= int(value) <= 200:
        raise invalid_field("invalidRequest", "top", "A whole number from 1 to 200.")
    return int(value)
