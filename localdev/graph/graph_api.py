"""The /v1.0 pipeline: latency, authentication, faults, routing, permissions, handler, journal.

The same pipeline serves a request that came over HTTP and each request inside a $batch, so an inner
request is validated, faulted and journaled exactly like one sent on its own.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from localdev.graph.auth import Caller, authenticate, authorize
from localdev.graph.batch import is_batch, run_batch
from localdev.graph.emulator import Emulator
from localdev.graph.errors import GraphError, bad_request, error_body, method_not_allowed, unknown_segment
from localdev.graph.faults import Fault, retry_after_header
from localdev.graph.handlers import ROUTES, Context, Route, check_query_options
from localdev.graph.journal import RecordedRequest, parsed_body, safe_headers
from localdev.graph.rules import check_presence_user_id
from localdev.graph.throttle import is_presence_request
from localdev.graph.user_lookup import ROUTES as LOOKUP_ROUTES
from localdev.graph.wire import GraphRequest, GraphResponse

_ALL_ROUTES = (*ROUTES, *LOOKUP_ROUTES)


class GraphApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle(self, request: GraphRequest) -> GraphResponse:
        """One HTTP request to /v1.0 (a single call or a $batch), from arrival to journal entry."""
        seq, arrived = self.emulator.journal.next_seq(), self.emulator.clock.now()
        # Latency is added once per HTTP request: a $batch waits once, not once per inner request.
        delay_ms = self.emulator.latency.next_delay_ms()
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        try:
            caller = authenticate(request.headers.get("Authorization"))
            if request.body_error is not None:
                raise request.body_error
            if is_batch(request):
                response = await run_batch(self, request, caller)
            else:
                response = await self.call(request, caller)
        except GraphError as error:
            response = self.error_response(error, request)
        self.record(seq, arrived, request, response)
        return response

    async def call(self, request: GraphRequest, caller: Caller) -> GraphResponse:
        """One call, on its own or inside a $batch: injected fault, then routing and the handler."""
        fault = self.emulator.faults.take(request.method, request.path)
        faulted = await self.apply_fault(fault, request)
        if faulted is not None:
            return faulted
        self.emulator.readings.take_applied()
        throttled = self.throttle(request, caller)
        if throttled is not None:
            return throttled
        try:
            response = self.dispatch(request, caller)
        except GraphError as error:
            response = self.error_response(error, request)
        response.readings = self.emulator.readings.take_applied() or None
        if fault is not None:
            response.fault = fault.to_json()  # a delay-only fault
        return response

    async def apply_fault(self, fault: Fault | None, request: GraphRequest) -> GraphResponse | None:
        """Wait out the fault's delay; answer its error, or None when the call should proceed."""
        if fault is None:
            return None
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status is None:
            return None
        retry_after = retry_after_header(fault.retry_after, fault.retry_after_form, self.emulator.clock.now())
        error = GraphError.for_status(
            fault.status, code=fault.code, message=fault.message, retry_after=retry_after
        )
        response = self.error_response(error, request)
        response.fault = fault.to_json()
        return response

    def throttle(self, request: GraphRequest, caller: Caller) -> GraphResponse | None:
        """Graph's presence budget: a 429 with Retry-After past it (journaled with fault source "budget")."""
        if not is_presence_request(request.segments):
            return None
        retry_after = self.emulator.presence_budget.take(caller.app_id, self.emulator.clock.now())
        if retry_after is None:
            return None
        response = self.error_response(GraphError.for_status(429, retry_after=retry_after), request)
        response.fault = {"source": "budget", "status": 429, "delayMs": 0, "retryAfter": retry_after}
        return response

    def dispatch(self, request: GraphRequest, caller: Caller) -> GraphResponse:
        segments = _resolve_me(request.segments, caller)
        route, params = match_route(request.method, segments)
        for permission in (route.permission, *route.also_requires):
            authorize(self.emulator.roles, permission)
        if route.object_id_only and "user" in params:
            check_presence_user_id(params["user"])
        check_query_options(request.query, route)
        return route.handler(Context(self.emulator, request, caller, params, self.emulator.clock.now()))

    def error_response(self, error: GraphError, request: GraphRequest) -> GraphResponse:
        body = error_body(
            error,
            request_id=request.request_id,
            client_request_id=request.client_request_id,
            now=self.emulator.clock.now(),
        )
        return GraphResponse(error.status, body, dict(error.headers))

    def record(self, seq: int, arrived: datetime, request: GraphRequest, response: GraphResponse) -> None:
        self.emulator.journal.record(
            RecordedRequest(
                seq=seq,
                at=arrived,
                method=request.method,
                path="/v1.0" + request.path,
                query=dict(request.query),
                headers=safe_headers(request.headers),
                body=parsed_body(request.body),
                status=response.status,
                request_id=request.request_id,
                batch_request_id=request.batch_request_id,
                batch_item_id=request.batch_item_id,
                fault=response.fault,
                readings=response.readings,
            )
        )


def match_route(method: str, segments: tuple[str, ...]) -> tuple[Route, dict[str, str]]:
    """The route for this method and path; 400 naming the segment Graph could not resolve, 405 for a
    known path with another method."""
    candidates = [
        (route, params) for route in _ALL_ROUTES if (params := _match(route.template, segments)) is not None
    ]
    for route, params in candidates:
        if route.method == method.upper():
            return route, params
    if candidates:
        raise method_not_allowed(method)
    if not segments:
        raise bad_request("The request URL names no resource.")
    resolved = max(_matched_prefix(route.template, segments) for route in _ALL_ROUTES)
    raise unknown_segment(segments[min(resolved, len(segments) - 1)])


def _match(template: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(template, segments, strict=True):
        if expected.startswith("{"):
            params[expected[1:-1]] = actual
        elif not _same_segment(expected, actual):
            return None
    return params


def _matched_prefix(template: tuple[str, ...], segments: tuple[str, ...]) -> int:
    count = 0
    for expected, actual in zip(template, segments, strict=False):
        if not (expected.startswith("{") or _same_segment(expected, actual)):
            break
        count += 1
    return count


def _same_segment(expected: str, actual: str) -> bool:
    # Graph resolves segments case-insensitively, and an action may be named with its namespace.
    actual, expected = actual.lower(), expected.lower()
    if expected.startswith(_NAMESPACE):
        # A type cast is always qualified: by the namespace, or by its alias `graph` (msgraph-sdk's form).
        return actual in (expected, f"graph.{expected.removeprefix(_NAMESPACE)}")
    return actual in (expected, f"{_NAMESPACE}{expected}")


_NAMESPACE = "microsoft.graph."


def _resolve_me(segments: tuple[str, ...], caller: Caller) -> tuple[str, ...]:
    if not segments or segments[0].lower() != "me":
        return segments
    if caller.user_id is None:
        # Graph: /me means the signed-in user, and an app-only token has none.
        raise bad_request("/me request is only valid with delegated authentication flow.")
    return ("users", caller.user_id, *segments[1:])
