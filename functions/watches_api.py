"""Watch routes: start, list, read and stop presence watches (a Power Automate webhook trigger)."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.api.auth import Caller, authorize, permit
from shared.api.http import json_response, next_link, no_content, page_size, parse_body, public_url, route
from shared.api.models import WatchChange, WatchInput, WatchList
from shared.api.operations import CREATE_WATCH, DELETE_WATCH, ENABLE_WATCH, GET_WATCH, LIST_WATCHES
from shared.app import services
from shared.platform.errors import WATCH_NOT_FOUND
from shared.watches.store import WatchRecord

bp = func.Blueprint()


@route(bp, CREATE_WATCH)
async def create_watch(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CREATE_WATCH, services())
    body = parse_body(req, WatchInput, CREATE_WATCH.max_body)
    targets = services().watches.targets(body)
    if isinstance(targets, str):
        caller.require("read")  # a group's members are not known up front: only callers who may read anyone
    else:
        await permit(caller, "read", targets, services().directory)
    # A signed-in user (who may watch only herself) has at most MAX_WATCHES_PER_USER; apps and function
    # keys, whose watches are a tenant's flows, are not counted.
    limit = None if caller.unrestricted("read") else services().settings.max_watches_per_user
    watch = await services().watches.create(caller.name, body, targets, limit=limit)
    # Absolute: Power Automate calls DELETE on exactly this URL when the flow is turned off.
    location = public_url(f"{urlparse(req.url).path.rstrip('/')}/{watch.id}")
    return json_response(watch, status=201, headers={"Location": location})


@route(bp, LIST_WATCHES)
async def list_watches(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, LIST_WATCHES, services())
    top = page_size(req.params.get("top"))
    mine = None if caller.unrestricted("read") else caller.name
    page, last = await services().watches.page(mine, top, req.params.get("after"))
    return json_response(WatchList(value=page, next_link=next_link(req, {"top": str(top)}, last)))


@route(bp, GET_WATCH)
async def get_watch(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, GET_WATCH, services())
    watch, _ = await _owned(caller, req.route_params["id"])
    return json_response(await services().watches.show(watch))


@route(bp, ENABLE_WATCH)
async def enable_watch(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, ENABLE_WATCH, services())
    parse_body(req, WatchChange)
    watch, etag = await _owned(caller, req.route_params["id"], change=True)
    return json_response(await services().watches.enable(caller.name, watch, etag))


@route(bp, DELETE_WATCH)
async def delete_watch(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, DELETE_WATCH, services())
    watch, _ = await _owned(caller, req.route_params["id"], change=True)
    await services().watches.delete(caller.name, watch)
    return no_content()


async def _owned(caller: Caller, watch_id: str, change: bool = False) -> tuple[WatchRecord, str]:
    """A watch is its maker's. Others see it if they may read every user, and change or stop it only if
    they may change every user's presence (an admin's app); to anyone else it is a 404 (a watch id says
    nothing about whether it exists)."""
    record, etag = await services().watches.get(watch_id)
    if record.created_by != caller.name and not caller.unrestricted("write" if change else "read"):
        raise WATCH_NOT_FOUND("No such watch.")
    return record, etag
