"""Presence routes: read one user or many; hold a session, a preferred presence or a status message."""

from __future__ import annotations

import azure.functions as func

from shared.api.auth import authorize, permit
from shared.api.http import json_response, no_content, parse_body, route
from shared.api.models import PreferredRequest, PresenceQuery, SessionRequest, StatusMessageRequest
from shared.api.operations import (
    CLEAR_MESSAGE,
    GET_HOLDS,
    GET_PRESENCE,
    HOLD_PREFERRED,
    HOLD_SESSION,
    QUERY_PRESENCE,
    RELEASE_PREFERRED,
    RELEASE_SESSION,
    SET_MESSAGE,
)
from shared.app import services
from shared.directory.ids import valid_refs

bp = func.Blueprint()


@route(bp, GET_PRESENCE)
async def get_presence(req: func.HttpRequest) -> func.HttpResponse:
    await authorize(req, GET_PRESENCE, services())
    return json_response(await services().presence.read(req.route_params["user"]))


@route(bp, QUERY_PRESENCE)
async def query_presence(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, QUERY_PRESENCE, services())
    query = parse_body(req, PresenceQuery, QUERY_PRESENCE.max_body)
    await permit(caller, "read", valid_refs(query.users), services().directory)
    return json_response(await services().presence.query(query.users))


@route(bp, HOLD_SESSION)
async def put_session(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, HOLD_SESSION, services())
    body = parse_body(req, SessionRequest)
    return json_response(await services().holds.hold_session(caller.name, req.route_params["user"], body))


@route(bp, RELEASE_SESSION)
async def delete_session(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, RELEASE_SESSION, services())
    await services().holds.release_session(caller.name, req.route_params["user"])
    return no_content()


@route(bp, HOLD_PREFERRED)
async def put_preferred(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, HOLD_PREFERRED, services())
    body = parse_body(req, PreferredRequest)
    return json_response(await services().holds.hold_preferred(caller.name, req.route_params["user"], body))


@route(bp, RELEASE_PREFERRED)
async def delete_preferred(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, RELEASE_PREFERRED, services())
    await services().holds.release_preferred(caller.name, req.route_params["user"])
    return no_content()


@route(bp, SET_MESSAGE)
async def put_status_message(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, SET_MESSAGE, services())
    body = parse_body(req, StatusMessageRequest)
    return json_response(await services().holds.set_message(caller.name, req.route_params["user"], body))


@route(bp, CLEAR_MESSAGE)
async def delete_status_message(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, CLEAR_MESSAGE, services())
    await services().holds.clear_message(caller.name, req.route_params["user"])
    return no_content()


@route(bp, GET_HOLDS)
async def get_holds(req: func.HttpRequest) -> func.HttpResponse:
    await authorize(req, GET_HOLDS, services())
    return json_response(await services().holds.holds(req.route_params["user"]))
