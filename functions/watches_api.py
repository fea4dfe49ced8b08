"""Watch routes: start, list, read and stop presence watches (a Power Automate webhook trigger)."""

from __future__ import annotations

from urllib.parse import urlparse

import azure.functions as func

from shared.api.auth import (
    Caller,
    authorize,
    may_use_watch,
    permit_watch_targets,
    watch_limit,
    watches_listed_for,
)
from shared.api.http import json_response, next_link, no_content, page_size, parse_body, public_url, route
from shared.api.models import WatchChange, WatchInput, WatchList
from shared.api.operations import CREATE_WATCH, DELETE_WATCH, ENABLE_WATCH, GET_WATCH, LIST_WATCHES
from shared.app import services
from shared.watches.store import WatchRecord

bp = func.Blueprint()


@route(bp, CREATE_WATCH)
async def create_watch(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CREATE_WATCH, services())
    body = parse_body(req, WatchInput, CREATE_WATCH.max_body)
    targets = services().watches.targets(body)
    await permit_watch_targets(caller, targets, services().directory)
    limit = watch_limit(caller, services().settings.max_watches_per_user)
    watch = await services().watches.create(caller.name, body, targets, limit=limit)
    # Absolute: Power Automate calls DELETE on exactly this URL when the flow is turned off.
    location = public_url(f"{urlparse(req.url).path.rstrip('/')}/{watch.id}")
    return json_response(watch, status=201, headers={"Location": location})


@route(bp, LIST_WATCHES)
async def list_watches(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, LIST_WATCHES, services())
    top = page_size(req.params.get("top"))
    page, last = await services().watches.page(watches_listed_for(caller), top, req.params.get("after"))
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
    """The watch, if the caller may see it (or, `change`, change it): see `may_use_watch`."""
    record, etag = await services().watches.get(watch_id)
    may_use_watch(caller, record.created_by, change)
    return record, etag
