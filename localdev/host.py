"""A small local stand-in for the Azure Functions host: serves any `azure.functions.FunctionApp` over
aiohttp on loopback, for machines without Azure Functions Core Tools (and for the tests). Never deployed.

Supports:
- HTTP triggers: route templates (literal segments case-insensitive, `{name}`, `{name?}` in the last
  segment, constraints int/long/bool/guid/alpha/min/max/range/length/minlength/maxlength, `{*rest}`),
  literal segments preferred over parameters, URL-decoded route values, methods, the host.json route
  prefix, a 100 MB request cap;
- function keys: one key (`FUNCTION_KEY`) accepted in `x-functions-key` or `?code=` for authLevel
  FUNCTION and ADMIN; ANONYMOUS is open; no key set means no key is checked;
- timer triggers: NCRONTAB (six or five fields, `%APP_SETTING%`), in UTC, `runOnStartup`, never
  overlapping themselves (a run due while one is still going is skipped, like the singleton lock);
- `POST /admin/functions/{name}` runs a timer now and answers 202 once it has finished;
- local-only: `GET /admin/host/status` (readiness) and `GET|PUT /admin/clock` (moves `shared.platform.clock`).

Does not support: other triggers and bindings (queues, blobs, output bindings; such functions are listed
as skipped), the `context` parameter, durable functions, scale out or a distributed singleton (one
process), master/host/system keys distinct from the function key, WEBSITE_TIME_ZONE, TimeSpan
schedules, complex route segments (`{a}.{b}`) and route defaults, the ASP.NET ambiguous-route error.

Deviations, chosen on purpose:
- a path that matches a route but not its method is 404, as the real host answers (not 405), so that a
  test written against this host holds in Azure; the log says which route would have matched;
- an admin run that raises answers 500 with `{"error": "<type>: <message>"}` (Azure gives an empty
  202 and logs the failure), so that a test sees why its timer failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hmac
import importlib
import inspect
import ipaddress
import json
import logging
import math
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import azure.functions as func
from aiohttp import web
from azure.functions.timer import TimerRequest
from multidict import CIMultiDict

from localdev.ncrontab import Ncrontab, ScheduleError, parse_schedule
from localdev.settings import DEFAULT_ROUTE_PREFIX, load_local_settings, read_log_levels, read_route_prefix
from shared.platform.clock import Clock, system_clock

log = logging.getLogger("localdev.host")

MAX_REQUEST_BYTES = 100 * 1024 * 1024  # the Functions host's own request limit
PAST_DUE_TOLERANCE = timedelta(seconds=1)
LONGEST_SLEEP_SECONDS = 60.0  # re-check the wall clock at least this often while waiting for a timer


def _loggable(path: str) -> str:
    """A request's (decoded) path as one line of the log: `%`, spaces and characters that are not
    printable (a `%0A` a client sent, which would start a forged line; `%00`; bidi controls) are
    percent-encoded again, so what the log shows is unambiguous and the same as what came."""
    return "".join(
        ch if ch.isprintable() and not ch.isspace() and ch != "%" else quote(ch, safe="") for ch in path
    )


class HostError(Exception):
    """A function app this host cannot serve as written (bad route template, schedule, ...)."""


# ---------------------------------------------------------------------------------------------- routes


def _int_in(bits: int) -> Callable[[str, Sequence[str]], bool]:
    def check(value: str, _args: Sequence[str]) -> bool:
        limit = 2 ** (bits - 1)
        return re.fullmatch(r"-?\d+", value) is not None and -limit <= int(value) < limit

    return check


def _is_guid(value: str, _args: Sequence[str]) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _number(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?\d+", value) else None


def _length(value: str, args: Sequence[str]) -> bool:
    if len(args) == 1:
        return len(value) == int(args[0])
    return int(args[0]) <= len(value) <= int(args[1])


def _in_range(value: str, args: Sequence[str]) -> bool:
    number = _number(value)
    return number is not None and int(args[0]) <= number <= int(args[1])


# name -> (check(value, args), allowed argument counts)
_CONSTRAINTS: dict[str, tuple[Callable[[str, Sequence[str]], bool], set[int]]] = {
    "int": (_int_in(32), {0}),
    "long": (_int_in(64), {0}),
    "bool": (lambda v, _a: v.lower() in {"true", "false"}, {0}),
    "guid": (_is_guid, {0}),
    "alpha": (lambda v, _a: re.fullmatch(r"[A-Za-z]+", v) is not None, {0}),
    "min": (lambda v, a: (n := _number(v)) is not None and n >= int(a[0]), {1}),
    "max": (lambda v, a: (n := _number(v)) is not None and n <= int(a[0]), {1}),
    "range": (_in_range, {2}),
    "length": (_length, {1, 2}),
    "minlength": (lambda v, a: len(v) >= int(a[0]), {1}),
    "maxlength": (lambda v, a: len(v) <= int(a[0]), {1}),
}
_CONSTRAINT = re.compile(r"^([A-Za-z]+)(?:\(([^()]*)\))?$")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class _Param:
    name: str
    optional: bool = False
    catch_all: bool = False
    constraints: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def accepts(self, value: str) -> bool:
        return all(_CONSTRAINTS[name][0](value, args) for name, args in self.constraints)


@dataclass(frozen=True)
class RouteTemplate:
    """An attribute-routing template as the Functions host reads `route`, matched segment by segment."""

    template: str
    segments: tuple[str | _Param, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip()
        text = text.removeprefix("~").strip("/")
        segments: list[str | _Param] = []
        names: set[str] = set()
        raw = text.split("/") if text else []
        for index, seg in enumerate(raw):
            last = index == len(raw) - 1
            if seg == "":
                raise HostError(f"route {template!r}: empty segment")
            if "{" not in seg and "}" not in seg:
                segments.append(seg)
                continue
            if not (seg.startswith("{") and seg.endswith("}")) or seg.count("{") != 1 or seg.count("}") != 1:
                raise HostError(
                    f"route {template!r}: segment {seg!r} mixes text and parameters, which the local host "
                    "does not support"
                )
            param = cls._parse_param(template, seg[1:-1])
            if (param.optional or param.catch_all) and not last:
                raise HostError(f"route {template!r}: {seg!r} may only be the last segment")
            if param.name.lower() in names:
                raise HostError(f"route {template!r}: parameter {param.name!r} appears twice")
            names.add(param.name.lower())
            segments.append(param)
        return cls(template=template, segments=tuple(segments))

    @staticmethod
    def _parse_param(template: str, inner: str) -> _Param:
        catch_all = inner.startswith("*")
        inner = inner.lstrip("*")
        optional = inner.endswith("?")
        inner = inner.removesuffix("?")
        if "=" in inner:
            raise HostError(f"route {template!r}: default values ({inner!r}) are not supported here")
        name, *raw_constraints = inner.split(":")
        if not _PARAM_NAME.match(name):
            raise HostError(f"route {template!r}: {name!r} is not a parameter name")
        constraints: list[tuple[str, tuple[str, ...]]] = []
        for raw in raw_constraints:
            match = _CONSTRAINT.match(raw)
            known = _CONSTRAINTS.get(match.group(1).lower()) if match else None
            if match is None or known is None:
                raise HostError(f"route {template!r}: constraint {raw!r} is not supported by the local host")
            args = tuple(a.strip() for a in match.group(2).split(",")) if match.group(2) else ()
            if len(args) not in known[1] or any(_number(a) is None for a in args):
                raise HostError(f"route {template!r}: constraint {raw!r} has the wrong arguments")
            constraints.append((match.group(1).lower(), args))
        return _Param(name=name, optional=optional, catch_all=catch_all, constraints=tuple(constraints))

    @property
    def precedence(self) -> tuple[int, ...]:
        """ASP.NET inbound precedence, one digit per segment, lower is more specific: literal 1,
        constrained parameter 3, parameter 4, catch-all 5."""
        digits = []
        for seg in self.segments:
            if isinstance(seg, str):
                digits.append(1)
            elif seg.catch_all:
                digits.append(5)
            else:
                digits.append(3 if seg.constraints else 4)
        return tuple(digits)

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """Route values for decoded path `parts` (below the prefix), or None when the path does not match."""
        values: dict[str, str] = {}
        for index, seg in enumerate(self.segments):
            if isinstance(seg, _Param) and seg.catch_all:
                rest = "/".join(parts[index:])
                if rest:
                    if not seg.accepts(rest):
                        return None
                    values[seg.name] = rest
                return values
            if index >= len(parts):
                return values if isinstance(seg, _Param) and seg.optional else None
            part = parts[index]
            if isinstance(seg, str):
                if part.casefold() != seg.casefold():
                    return None
                continue
            if part == "" or not seg.accepts(part):
                return None
            values[seg.name] = part
        return values if len(parts) == len(self.segments) else None


def split_path(raw_path: str) -> list[str]:
    """`/api/users/a%40b/` → ['api', 'users', 'a@b']: one trailing slash ignored, each segment decoded."""
    path = raw_path.split("?", 1)[0].lstrip("/")
    path = path.removesuffix("/")
    return [unquote(part) for part in path.split("/")] if path else []


# ----------------------------------------------------------------------------------------- functions


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


async def _call_user_function(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Async functions run on the loop; sync ones in a worker thread, as the Python worker does."""
    if inspect.iscoroutinefunction(fn):
        return await fn(**kwargs)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, functools.partial(fn, **kwargs))
    if inspect.isawaitable(result):
        result = await result
    return result


@dataclass
class HttpFunction:
    name: str
    fn: Callable[..., Any]
    arg_name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # anonymous | function | admin

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def _default_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TimerFunction:
    """One timer trigger with its lock: scheduled runs skip while any run holds it, admin runs wait."""

    name: str
    fn: Callable[..., Any]
    arg_name: str
    schedule: Ncrontab
    run_on_startup: bool = False
    now: Callable[[], datetime] = _default_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    runs_started: int = 0
    runs_skipped: int = 0

    async def run(self, *, past_due: bool = False, reason: str = "admin") -> None:
        """Run now, after any run in progress; the function's exception propagates (already logged)."""
        async with self.lock:
            await self._invoke(past_due=past_due, reason=reason)

    async def _invoke(self, *, past_due: bool, reason: str) -> None:
        self.runs_started += 1
        started = time.monotonic()
        request = TimerRequest(past_due=past_due)
        try:
            await _call_user_function(self.fn, {self.arg_name: request})
        except Exception:
            log.exception(
                "Executed 'Functions.%s' (Failed, reason=%s, %.0f ms)",
                self.name,
                reason,
                (time.monotonic() - started) * 1000,
            )
            raise
        log.info(
            "Executed 'Functions.%s' (Succeeded, reason=%s, past_due=%s, %.0f ms)",
            self.name,
            reason,
            past_due,
            (time.monotonic() - started) * 1000,
        )

    async def _scheduled_run(self, *, past_due: bool, reason: str) -> None:
        if self.lock.locked():
            self.runs_skipped += 1
            log.warning("timer %s: skipped the %s run, the previous run is still going", self.name, reason)
            return
        async with self.lock:
            # already logged with its traceback; the schedule goes on
            with contextlib.suppress(Exception):
                await self._invoke(past_due=past_due, reason=reason)

    async def run_forever(self) -> None:
        """The schedule loop: the next occurrence is computed after each run, so runs never overlap."""
        if self.run_on_startup:
            await self._scheduled_run(past_due=False, reason="startup")
        while True:
            due = self.schedule.next_after(self.now())
            while (remaining := (due - self.now()).total_seconds()) > 0:
                await self.sleep(min(remaining, LONGEST_SLEEP_SECONDS))
            await self._scheduled_run(past_due=self.now() - due > PAST_DUE_TOLERANCE, reason="schedule")


@dataclass
class SkippedFunction:
    name: str
    why: str


# -------------------------------------------------------------------------------------------- the host

HOST_KEY: web.AppKey[LocalHost] = web.AppKey("localdev_host")


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LocalHost:
    """The functions of one app, indexed for routing and timers; the aiohttp handlers live here."""

    def __init__(
        self,
        function_app: func.FunctionApp,
        *,
        function_key: str | None,
        route_prefix: str = DEFAULT_ROUTE_PREFIX,
        run_timers: bool = True,
        clock: Clock = system_clock,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.function_key = function_key
        self.route_prefix = route_prefix.strip("/")
        self._prefix_parts = [p.casefold() for p in split_path(self.route_prefix)]
        self.run_timers = run_timers
        self.clock = clock
        self.http: list[HttpFunction] = []
        self.timers: dict[str, TimerFunction] = {}
        self.skipped: list[SkippedFunction] = []
        self.names: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        env = os.environ if environ is None else environ
        for function in function_app.get_functions():
            self._index(function, env)

    def _index(self, function: Any, env: Mapping[str, str]) -> None:
        name = function.get_function_name()
        trigger = function.get_trigger()
        spec = trigger.get_dict_repr() if trigger is not None else {}
        kind = spec.get("type")
        if any(n.casefold() == name.casefold() for n in self.names):
            raise HostError(f"two functions are named {name!r}")
        fn = function.get_user_function()
        arg_name = spec.get("name", "req")
        extra = [b for b in function.get_bindings() if b is not trigger and _enum_value(b.type) != "http"]
        if kind not in {"httpTrigger", "timerTrigger"} or extra:
            why = (
                f"{kind}"
                if kind not in {"httpTrigger", "timerTrigger"}
                else "bindings " + ", ".join(_enum_value(b.type) for b in extra)
            )
            self.skipped.append(SkippedFunction(name, f"{why}: not supported by the local host"))
            log.warning("function %s skipped: %s is not supported by the local host", name, why)
            return
        if kind == "httpTrigger":
            methods = spec.get("methods")
            try:
                route = RouteTemplate.parse(spec.get("route") or name)
            except HostError as exc:
                raise HostError(f"function {name}: {exc}") from exc
            self.http.append(
                HttpFunction(
                    name=name,
                    fn=fn,
                    arg_name=arg_name,
                    route=route,
                    methods=frozenset(_enum_value(m).upper() for m in methods) if methods else None,
                    auth_level=_enum_value(spec.get("authLevel", "function")).lower(),
                )
            )
        else:
            try:
                schedule = parse_schedule(str(spec.get("schedule", "")), env)
            except ScheduleError as exc:
                raise HostError(f"function {name}: {exc}") from exc
            self.timers[name] = TimerFunction(
                name=name,
                fn=fn,
                arg_name=arg_name,
                schedule=schedule,
                run_on_startup=bool(spec.get("runOnStartup", False)),
            )
        self.names.append(name)

    # ------------------------------------------------------------------------------ description

    def describe(self) -> list[str]:
        """One line per function, for the start-up banner."""
        prefix = f"/{self.route_prefix}" if self.route_prefix else ""
        lines = []
        for name in self.names:
            timer = self.timers.get(name)
            if timer is not None:
                schedule = timer.schedule
                source = f", from {schedule.source}" if schedule.source.strip() != schedule.expression else ""
                off = "" if self.run_timers else ", not scheduled: --no-timers"
                lines.append(f"  timer {name}  ({schedule.expression}{source}{off})")
                continue
            http = next(h for h in self.http if h.name == name)
            methods = ",".join(sorted(http.methods)) if http.methods else "ALL"
            template = http.route.template.strip().removeprefix("~").strip("/")
            lines.append(f"  {methods} {prefix}/{template}  ({name})")
        lines.extend(f"  skipped {s.name}  ({s.why})" for s in self.skipped)
        return lines

    # ---------------------------------------------------------------------------------- keys

    def key_ok(self, request: web.Request) -> bool:
        if self.function_key is None:
            return True
        supplied = request.headers.get("x-functions-key")
        if supplied is None:
            supplied = request.query.get("code", "")
        return hmac.compare_digest(supplied.encode(), self.function_key.encode())

    # ------------------------------------------------------------------------------- routing

    def resolve(
        self, method: str, raw_path: str
    ) -> tuple[HttpFunction | None, dict[str, str], list[HttpFunction]]:
        """The most specific function whose route and method match; also the path-only matches."""
        parts = split_path(raw_path)
        n = len(self._prefix_parts)
        if [p.casefold() for p in parts[:n]] != self._prefix_parts:
            return None, {}, []
        below = parts[n:]
        best: tuple[tuple[int, ...], HttpFunction, dict[str, str]] | None = None
        path_only: list[HttpFunction] = []
        for http in self.http:
            values = http.route.match(below)
            if values is None:
                continue
            if not http.allows(method):
                path_only.append(http)
                continue
            if best is None or http.route.precedence < best[0]:
                best = (http.route.precedence, http, values)
        if best is None:
            return None, {}, path_only
        return best[1], best[2], path_only

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        http, route_values, path_only = self.resolve(request.method, request.rel_url.raw_path)
        if http is None:
            if path_only:
                log.info(
                    "404 %s %s: the route of %s matches, but only for %s (the real host answers 404 too)",
                    request.method,
                    _loggable(request.path),
                    ", ".join(h.name for h in path_only),
                    ", ".join(sorted(m for h in path_only for m in (h.methods or ()))),
                )
            else:
                log.info("404 %s %s: no function route matches", request.method, _loggable(request.path))
            return web.Response(status=404)
        if http.auth_level != "anonymous" and not self.key_ok(request):
            log.info(
                "401 %s %s: function %s needs the function key",
                request.method,
                _loggable(request.path),
                http.name,
            )
            return web.Response(status=401)
        body = await request.read()
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        params: dict[str, str] = {}
        for key, value in request.query.items():
            params.setdefault(key, value)
        req = func.HttpRequest(
            request.method,
            str(request.url),
            headers=headers,
            params=params,
            route_params=route_values,
            body=body,
        )
        started = time.monotonic()
        try:
            result = await _call_user_function(http.fn, {http.arg_name: req})
            response = _to_web_response(result)
        except Exception:
            log.exception(
                "Executed 'Functions.%s' (Failed, %.0f ms)", http.name, (time.monotonic() - started) * 1000
            )
            return web.Response(status=500)
        log.info(
            "Executed 'Functions.%s' (Succeeded, %s %s -> %d, %.0f ms)",
            http.name,
            request.method,
            _loggable(request.path),
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    # --------------------------------------------------------------------------------- admin

    def find(self, name: str) -> str | None:
        return next((n for n in self.names if n.casefold() == name.casefold()), None)

    async def handle_status(self, _request: web.Request) -> web.Response:
        return _json(200, {"state": "Running", "functions": list(self.names)})

    async def handle_admin_run(self, request: web.Request) -> web.Response:
        if not self.key_ok(request):
            return web.Response(status=401)
        wanted = request.match_info["name"]
        name = self.find(wanted)
        if name is None:
            return _json(404, {"error": f"no function named {wanted!r}"})
        timer = self.timers.get(name)
        if timer is None:
            return _json(400, {"error": f"{name} is an HTTP function: call its route instead"})
        raw = await request.read()
        if raw.strip():
            try:
                payload = json.loads(raw)
            except ValueError:
                return _json(400, {"error": 'the body must be JSON, e.g. {"input": ""}'})
            if not isinstance(payload, dict):
                return _json(400, {"error": 'the body must be a JSON object, e.g. {"input": ""}'})
        try:
            await timer.run(past_due=False, reason="admin")
        except Exception as exc:
            return _json(500, {"error": f"{type(exc).__name__}: {exc}"})
        return web.Response(status=202)

    async def handle_clock_get(self, _request: web.Request) -> web.Response:
        return _json(200, {"now": _iso_z(self.clock.now())})

    async def handle_clock_put(self, request: web.Request) -> web.Response:
        if not self.key_ok(request):
            return web.Response(status=401)
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        usage = (
            'send one of {"now": "2026-11-23T09:00:00+01:00", "frozen"?: true}, {"advanceSeconds": 90}, '
            '{"reset": true}'
        )
        frozen = payload.pop("frozen", False) if isinstance(payload, dict) and "now" in payload else False
        if not isinstance(payload, dict) or len(payload) != 1 or not isinstance(frozen, bool):
            return _json(400, {"error": usage})
        if "now" in payload:
            try:
                moment = datetime.fromisoformat(str(payload["now"]))
            except ValueError:
                return _json(400, {"error": f"now: not an ISO 8601 datetime; {usage}"})
            if moment.tzinfo is None:
                return _json(400, {"error": "now: needs an offset (Z or +01:00)"})
            self.clock.set_now(moment, frozen=frozen)
        elif "advanceSeconds" in payload:
            seconds = payload["advanceSeconds"]
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not math.isfinite(seconds)
            ):
                return _json(400, {"error": "advanceSeconds: a number of seconds"})
            self.clock.advance(timedelta(seconds=seconds))
        elif payload.get("reset") is True:
            self.clock.reset()
        else:
            return _json(400, {"error": usage})
        log.info("clock moved: now %s", _iso_z(self.clock.now()))
        return _json(200, {"now": _iso_z(self.clock.now())})

    # ------------------------------------------------------------------------------ lifecycle

    async def start_timers(self, _app: web.Application) -> None:
        if not self.run_timers:
            return
        for timer in self.timers.values():
            self._tasks.append(asyncio.create_task(timer.run_forever(), name=f"timer {timer.name}"))

    async def stop_timers(self, _app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def _to_web_response(result: Any) -> web.Response:
    """A function's return value as the worker encodes it: HttpResponse (Content-Type from mimetype and
    charset unless a header sets it) or a str (200 text/plain)."""
    if isinstance(result, str):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(result).__name__}, not func.HttpResponse")
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in result.headers.items():
        if key.lower() not in {"content-length", "transfer-encoding"}:
            headers.add(key, value)
    if "content-type" not in headers:
        mimetype = result.mimetype
        headers["Content-Type"] = (
            f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
        )
    status = int(result.status_code)
    body = result.get_body() or b""
    if status in {204, 304} or status < 200:
        body = b""
    return web.Response(status=status, body=body, headers=headers)


def create_host_app(
    function_app: func.FunctionApp,
    *,
    function_key: str | None,
    route_prefix: str = DEFAULT_ROUTE_PREFIX,
    run_timers: bool = True,
    clock: Clock = system_clock,
) -> web.Application:
    """An aiohttp application serving `function_app`; the LocalHost behind it is `app[HOST_KEY]`."""
    host = LocalHost(
        function_app, function_key=function_key, route_prefix=route_prefix, run_timers=run_timers, clock=clock
    )
    if function_key is None:
        log.warning("function keys are off (no FUNCTION_KEY): every route is open, as if anonymous")
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[HOST_KEY] = host
    app.router.add_get("/admin/host/status", host.handle_status)
    app.router.add_post("/admin/functions/{name}", host.handle_admin_run)
    app.router.add_get("/admin/clock", host.handle_clock_get)
    app.router.add_put("/admin/clock", host.handle_clock_put)
    # Any path at all, control characters included (`.` alone stops at a newline): every request is the
    # host's to route or to answer 404, as the Functions host does.
    app.router.add_route("*", "/{tail:[\\s\\S]*}", host.handle_http)
    app.on_startup.append(host.start_timers)
    app.on_cleanup.append(host.stop_timers)
    return app


# ------------------------------------------------------------------------------------------------ main


def load_function_app(app_dir: Path) -> func.FunctionApp:
    """Import `function_app` from app_dir, as the Python worker does, and return its FunctionApp."""
    sys.path.insert(0, str(app_dir))
    module = importlib.import_module("function_app")
    app = getattr(module, "app", None)
    if not isinstance(app, func.FunctionRegister):
        app = next((v for v in vars(module).values() if isinstance(v, func.FunctionRegister)), None)
    if app is None:
        raise HostError(f"{app_dir / 'function_app.py'} defines no FunctionApp")
    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


async def _serve(app: web.Application, host: str, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before the readiness line: a stop may follow it at once
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(f"local host: cannot listen on {host}:{port}: {_one_line(exc)}", file=sys.stderr, flush=True)
        return 1
    local = app[HOST_KEY]
    base = f"http://{host}:{port}"
    print(f"local host listening on {base}/{local.route_prefix}".rstrip("/"), flush=True)
    for line in local.describe():
        print(line, flush=True)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev host", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--app-dir", default=".", help="the directory holding function_app.py and host.json")
    parser.add_argument("--no-timers", action="store_true", help="do not run timers on their schedule")
    args = parser.parse_args(argv)
    if not _is_loopback(args.host):
        print(
            f"local host: {args.host} is not a loopback address; the local host only serves loopback",
            file=sys.stderr,
            flush=True,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app_dir = Path(args.app_dir).resolve()
    # The app's public address, as App Service and the Core Tools set it: the app builds absolute URLs
    # from it, never from a request's Host header.
    os.environ["WEBSITE_HOSTNAME"] = f"{_url_host(args.host)}:{args.port}"
    try:
        load_local_settings(app_dir)
        route_prefix = read_route_prefix(app_dir)
        for logger_name, level in read_log_levels(app_dir).items():
            logging.getLogger(logger_name or None).setLevel(level)
        log.setLevel(logging.INFO)  # the host's own lines (invocations, 404s) whatever `default` says
        function_app = load_function_app(app_dir)
        web_app = create_host_app(
            function_app,
            function_key=os.environ.get("FUNCTION_KEY") or None,
            route_prefix=route_prefix,
            run_timers=not args.no_timers,
        )
    except Exception as exc:
        print(
            f"local host: cannot load the function app from {app_dir}: {_one_line(exc)}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return asyncio.run(_serve(web_app, args.host, args.port))
