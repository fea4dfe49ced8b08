"""Schedule routes: create, list, read, change and cancel schedules."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.api.auth import Caller, authorize, permit
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
from shared.directory.ids import UserRef, parse_user
from shared.platform.errors import PRECONDITION_FAILED

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
    user, status = req.params.get("user"), req.params.get("status")
    if user is None and not caller.unrestricted("read"):
        user = caller.user_id  # a signed-in user lists their own
    await permit(caller, "read", [parse_user(user)] if user is not None else [], services().directory)
    page, last = await services().schedules.list(user, status, top, req.params.get("after"))
    query = {"user": user, "status": status, "top": str(top)}
    return json_response(ScheduleList(value=page, next_link=next_link(req, query, last)))


@route(bp, GET_SCHEDULE)
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, GET_SCHEDULE, services())
    schedule, etag = await services().schedules.get(req.route_params["id"])
    await permit(caller, "read", [parse_user(schedule.user_id)], services().directory)
    return json_response(schedule, headers={"ETag": etag})


@route(bp, UPDATE_SCHEDULE)
async def update_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, UPDATE_SCHEDULE, services())
    patch = parse_body(req, ScheduleFields)
    moved_to = [parse_user(patch.user)] if patch.user is not None else []
    if_match = await _owned(caller, req.route_params["id"], moved_to, req.headers.get("if-match"))
    schedule, etag = await services().schedules.update(caller.name, req.route_params["id"], patch, if_match)
    return json_response(schedule, headers={"ETag": etag})


@route(bp, CANCEL_SCHEDULE)
async def cancel_schedule(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CANCEL_SCHEDULE, services())
    if_match = await _owned(caller, req.route_params["id"])
    if await services().schedules.cancel(caller.name, req.route_params["id"], if_match):
        await services().engine.settle_now(req.route_params["id"])  # an active schedule is reverted first
    return no_content()


async def _owned(
    caller: Caller, schedule_id: str, moved_to: list[UserRef] | None = None, if_match: str | None = None
) -> str | None:
    """A change to a schedule: its user (and any user it is moved to) must be the caller's to change. For
    a caller with limits, the answer is the ETag the check saw, so the change applies to that version only
    (a schedule moved to somebody else in between is not changed): the If-Match to use."""
    if caller.unrestricted("write"):
        return if_match
    schedule, etag = await services().schedules.get(schedule_id)
    await permit(caller, "write", [parse_user(schedule.user_id), *(moved_to or [])], services().directory)
    if if_match not in {None, "*", etag}:
        raise PRECONDITION_FAILED("The schedule changed since you read it (If-Match).")
    return etag
