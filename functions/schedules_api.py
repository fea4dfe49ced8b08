"""Schedule routes: create, list, read, change and cancel schedules."""

from __future__ import annotations

import azure.functions as func

from shared.auth import Caller, authorize
from shared.http import json_response, next_link, no_content, page_size, parse_body, route
from shared.models import ScheduleFields, ScheduleInput, ScheduleList
from shared.operations import (
    CANCEL_SCHEDULE,
    CREATE_SCHEDULE,
    GET_SCHEDULE,
    LIST_SCHEDULES,
    UPDATE_SCHEDULE,
    Access,
)
from shared.service import services
from shared.users import UserRef, parse_user

bp = func.Blueprint()


@route(bp, CREATE_SCHEDULE)
async def create_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, CREATE_SCHEDULE, services().settings)
    body = parse_body(req, ScheduleInput)
    caller.require("write", [parse_user(body.user)])
    schedule = await services().schedules.create(caller.name, body, req.headers.get("idempotency-key"))
    return json_response(schedule, status=201, headers={"Location": f"/api/schedules/{schedule.id}"})


@route(bp, LIST_SCHEDULES)
async def list_schedules(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, LIST_SCHEDULES, services().settings)
    top = page_size(req.params.get("top"))
    user, status = req.params.get("user"), req.params.get("status")
    if user is None and not caller.unrestricted("read"):
        user = caller.user_id  # a signed-in user lists their own
    caller.require("read", [parse_user(user)] if user is not None else [])
    page, last = await services().schedules.list(user, status, top, req.params.get("after"))
    query = {"user": user, "status": status, "top": str(top)}
    return json_response(ScheduleList(value=page, next_link=next_link(req, query, last)))


@route(bp, GET_SCHEDULE)
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, GET_SCHEDULE, services().settings)
    schedule, etag = await services().schedules.get(req.route_params["id"])
    caller.require("read", [parse_user(schedule.user_id)])
    return json_response(schedule, headers={"ETag": etag})


@route(bp, UPDATE_SCHEDULE)
async def update_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, UPDATE_SCHEDULE, services().settings)
    patch = parse_body(req, ScheduleFields)
    moved_to = [parse_user(patch.user)] if patch.user is not None else []
    await _require_owner(caller, "write", req.route_params["id"], moved_to)
    schedule, etag = await services().schedules.update(
        caller.name, req.route_params["id"], patch, req.headers.get("if-match")
    )
    return json_response(schedule, headers={"ETag": etag})


@route(bp, CANCEL_SCHEDULE)
async def cancel_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = authorize(req, CANCEL_SCHEDULE, services().settings)
    await _require_owner(caller, "write", req.route_params["id"])
    if await services().schedules.cancel(caller.name, req.route_params["id"]):
        await services().engine.settle_now(req.route_params["id"])  # an active schedule is reverted first
    return no_content()


async def _require_owner(
    caller: Caller, access: Access, schedule_id: str, also: list[UserRef] | None = None
) -> None:
    """The schedule's user (and any user it is moved to) must be the caller's to `access`."""
    if not caller.unrestricted(access):
        schedule, _ = await services().schedules.get(schedule_id)
        caller.require(access, [parse_user(schedule.user_id), *(also or [])])
