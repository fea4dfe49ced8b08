"""Schedule routes: create, list, read, change and cancel schedules."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.api.auth import (
    authorize,
    permit,
    permit_schedule_change,
    permit_schedule_list,
    permit_schedule_read,
)
from shared.api.http import json_response, next_link, no_content, page_size, parse_body, public_url, route
from shared.api.models import ScheduleFields, ScheduleInput, ScheduleList
from shared.api.operations import (
    CANCEL_SCHEDULE,
    CREATE_SCHEDULE,
    GET_SCHEDULE,
    LIST_SCHEDULES,
    UPDATE_SCHEDULE,
)
from shared.app import services
from shared.directory.ids import parse_user

bp = func.Blueprint()


@route(bp, CREATE_SCHEDULE)
async def create_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CREATE_SCHEDULE, services())
    body = parse_body(req, ScheduleInput)
    await permit(caller, "write", [parse_user(body.user)], services().directory)
    schedule = await services().schedules.create(caller.name, body, req.headers.get("idempotency-key"))
    location = public_url(f"{urlparse(req.url).path.rstrip('/')}/{schedule.id}")
    return json_response(schedule, status=201, headers={"Location": location})


@route(bp, LIST_SCHEDULES)
async def list_schedules(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, LIST_SCHEDULES, services())
    top = page_size(req.params.get("top"))
    user = await permit_schedule_list(caller, req.params.get("user"), services().directory)
    status = req.params.get("status")
    page, last = await services().schedules.list(user, status, top, req.params.get("after"))
    query = {"user": user, "status": status, "top": str(top)}
    return json_response(ScheduleList(value=page, next_link=next_link(req, query, last)))


@route(bp, GET_SCHEDULE)
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, GET_SCHEDULE, services())
    schedule, etag = await services().schedules.get(req.route_params["id"])
    await permit_schedule_read(caller, schedule.user_id, services().directory)
    return json_response(schedule, headers={"ETag": etag})


@route(bp, UPDATE_SCHEDULE)
async def update_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, UPDATE_SCHEDULE, services())
    patch = parse_body(req, ScheduleFields)
    moved_to = [parse_user(patch.user)] if patch.user is not None else []
    if_match = await permit_schedule_change(
        caller, req.route_params["id"], moved_to, req.headers.get("if-match"), services()
    )
    schedule, etag = await services().schedules.update(caller.name, req.route_params["id"], patch, if_match)
    return json_response(schedule, headers={"ETag": etag})


@route(bp, CANCEL_SCHEDULE)
async def cancel_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CANCEL_SCHEDULE, services())
    if_match = await permit_schedule_change(caller, req.route_params["id"], [], None, services())
    if await services().schedules.cancel(caller.name, req.route_params["id"], if_match):
        await services().engine.settle_now(req.route_params["id"])  # an active schedule is reverted first
    return no_content()
