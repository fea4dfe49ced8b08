"""The aiohttp application: /v1.0 (the Graph surface, via GraphApi) and /_emulator (the control plane).

Every response carries a `request-id` (and echoes `client-request-id`); every error is Graph-shaped.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from uuid import uuid4

from aiohttp import web

from localdev.graph.control_api import routes as control_routes
from localdev.graph.emulator import EMULATOR, Emulator
from localdev.graph.errors import GraphError, error_body
from localdev.graph.graph_api import GraphApi
from localdev.graph.wire import GraphRequest, GraphResponse, split_path
from shared.platform.identity import LOOPBACK_APP_ID

log = logging.getLogger(__name__)

GRAPH_API = web.AppKey("graph_api", GraphApi)
REQUEST_ID = web.RequestKey("request_id", str)
MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(
    *, app_id: str = LOOPBACK_APP_ID, users: str | None = "demo", presence_budget: int | None = None
) -> web.Application:
    """The emulator as an aiohttp app; `users="demo"` seeds the demo directory, None (or "none") nobody;
    `presence_budget` turns Graph's presence throttle on (requests per app in any 30 s)."""
    emulator = Emulator(app_id=app_id, users=users, presence_budget=presence_budget)
    app = web.Application(middlewares=[request_ids, loopback_control_plane], client_max_size=MAX_BODY_BYTES)
    app[EMULATOR] = emulator
    app[GRAPH_API] = GraphApi(emulator)
    app.router.add_route("*", r"/v1.0{tail:(/.*)?}", graph_entry)
    app.router.add_routes(control_routes)
    return app


async def graph_entry(request: web.Request) -> web.StreamResponse:
    body_error = None
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body, body_error = b"", GraphError.for_status(413, message="The request body is too large.")
    graph_request = GraphRequest(
        method=request.method,
        # The raw path, split before decoding, so an encoded "/" stays inside its segment.
        segments=split_path(request.rel_url.raw_path.removeprefix("/v1.0")),
        query=dict(request.query),
        headers=request.headers,
        body=body,
        request_id=request[REQUEST_ID],
        base_url=f"{request.url.origin()}/v1.0",
        body_error=body_error,
    )
    return to_web(await request.app[GRAPH_API].handle(graph_request))


def to_web(response: GraphResponse) -> web.Response:
    headers = dict(response.headers)
    if response.content_type is None:
        return web.Response(status=response.status, headers=headers)
    headers["Content-Type"] = response.content_type
    return web.Response(status=response.status, body=json.dumps(response.body).encode(), headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request-id on every response, the client's client-request-id echoed, and Graph-shaped errors for
    whatever the handlers raise (control plane) or aiohttp answers (unknown paths)."""
    request_id = str(uuid4())
    request[REQUEST_ID] = request_id
    client_request_id = request.headers.get("client-request-id")
    try:
        response = await handler(request)
    except GraphError as error:
        response = _error(request, error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(request, GraphError.for_status(exc.status, message=exc.reason))
    except Exception:
        log.exception("graph emulator: unexpected error on %s %s", request.method, request.path)
        response = _error(request, GraphError.for_status(500))
    response.headers["request-id"] = request_id
    if client_request_id:
        response.headers["client-request-id"] = client_request_id
    return response


def _error(request: web.Request, error: GraphError) -> web.Response:
    emulator = request.app[EMULATOR]
    body = error_body(
        error,
        request_id=request[REQUEST_ID],
        client_request_id=request.headers.get("client-request-id"),
        now=emulator.clock.now(),
    )
    return web.json_response(body, status=error.status, headers=error.headers)


@web.middleware
async def loopback_control_plane(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The control plane answers loopback callers only (the CLI binds loopback anyway)."""
    if request.path.startswith("/_emulator") and not _is_loopback(request.remote):
        raise GraphError(403, "Forbidden", "The emulator's control plane answers loopback callers only.")
    return await handler(request)


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
