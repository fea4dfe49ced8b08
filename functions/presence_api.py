"""Presence routes: read one user, read many."""

from __future__ import annotations

import azure.functions as func

from shared.auth import authorize
from shared.http import json_response, parse_body, route
from shared.models import PresenceQuery
from shared.operations import GET_PRESENCE, QUERY_PRESENCE
from shared.service import services

bp = func.Blueprint()


@route(bp, GET_PRESENCE)
async def get_presence(req: func.HttpRequest) -> func.HttpResponse:
    authorize(req, services().settings)
    presence = await services().presence.read(req.route_params["user"])
    return json_response(presence)


@route(bp, QUERY_PRESENCE)
async def query_presence(req: func.HttpRequest) -> func.HttpResponse:
    authorize(req, services().settings)
    query = parse_body(req, PresenceQuery, QUERY_PRESENCE.max_body)
    return json_response(await services().presence.query(query.users))
