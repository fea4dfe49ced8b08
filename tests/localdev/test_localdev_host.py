"""The local Functions host, in-process: routing, keys, responses, admin runs, timers and the clock."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import azure.functions as func
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from localdev.host import HOST_KEY, HostError, RouteTemplate, _loggable, create_host_app
from shared.platform.clock import Clock

KEY = "test-key-0123456789"
CALLS: list[str] = []
TIMER_RUNS: list[dict[str, object]] = []
SLOW_TIMER_GATE = asyncio.Event()


def _json(body: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


bp = func.Blueprint()


@bp.route(route="users/{user}/presence", methods=["GET"])
async def get_presence(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("get_presence")
    return _json({"user": req.route_params["user"]})


# registered before the literal route on purpose: precedence, not order, decides
@bp.route(route="{thing}/query", methods=["POST"])
async def thing_query(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("thing_query")
    return _json({"fn": "thing_query", "thing": req.route_params["thing"]})


@bp.route(route="presence/query", methods=["POST"])
async def presence_query(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("presence_query")
    return _json({"fn": "presence_query"})


@bp.route(route="schedules/{id:guid}", methods=["GET"])
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": req.route_params["id"]})


@bp.route(route="items/{n:int}")
async def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"n": req.route_params["n"]})


@bp.route(route="letters/{word:alpha}")
async def get_letters(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"word": req.route_params["word"]})


@bp.route(route="files/{*rest}")
async def get_file(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.route_params))


@bp.route(route="greet/{name?}")
async def greet(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.route_params))


@bp.route(route="session", methods=["PUT"])
async def put_session(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"fn": "put_session"})


@bp.route(route="session", methods=["DELETE"])
async def delete_session(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@bp.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:  # sync on purpose: runs in a worker thread
    CALLS.append(f"echo in {threading.current_thread().name}")
    body = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "header": req.headers.get("x-test"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(
        json.dumps(body),
        status_code=201,
        headers={"X-Echo": "yes", "Location": "/api/echo/1"},
        mimetype="application/json",
    )


@bp.route(route="page")
async def page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<p>hé</p>", mimetype="text/html")


@bp.route(route="problem")
async def problem(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        b'{"status": 404}', status_code=404, headers={"Content-Type": "application/problem+json"}
    )


@bp.route(route="health", auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("health")
    return _json({"status": "ok"})


@bp.route(route="keys/admin", auth_level=func.AuthLevel.ADMIN)
async def admin_level(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("admin_level")
    return _json({})


@bp.route(route="boom")
async def boom(req: func.HttpRequest) -> func.HttpResponse:
    CALLS.append("boom")
    raise RuntimeError("kaboom")


@bp.timer_trigger(schedule="%LOCALDEV_TEST_TICK%", arg_name="tick")
async def ticker(tick: func.TimerRequest) -> None:
    await asyncio.sleep(0.05)  # the admin run must answer only after this finished
    TIMER_RUNS.append({"fn": "ticker", "past_due": tick.past_due})


@bp.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
def failing_timer(timer: func.TimerRequest) -> None:
    raise RuntimeError("storage down")


@bp.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
async def slow_timer(timer: func.TimerRequest) -> None:
    TIMER_RUNS.append({"fn": "slow_timer", "at": "start"})
    await SLOW_TIMER_GATE.wait()
    TIMER_RUNS.append({"fn": "slow_timer", "at": "end"})


def make_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(bp)
    return app


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALDEV_TEST_TICK", "0 */5 * * * *")
    CALLS.clear()
    TIMER_RUNS.clear()
    SLOW_TIMER_GATE.clear()


@asynccontextmanager
async def serve(
    function_app: func.FunctionApp | None = None,
    *,
    key: str | None = KEY,
    timer_time: FakeTime | None = None,
    **kwargs: object,
) -> AsyncIterator[TestClient]:
    """The host on a test server; `timer_time`: the wall time its timers go by, instead of the real one."""
    kwargs.setdefault("run_timers", False)
    web_app = create_host_app(function_app or make_app(), function_key=key, **kwargs)  # type: ignore[arg-type]
    if timer_time is not None:
        for timer in web_app[HOST_KEY].timers.values():
            timer.now, timer.sleep = timer_time.now, timer_time.sleep
    async with TestClient(TestServer(web_app)) as client:
        yield client


AUTH = {"x-functions-key": KEY}


# ------------------------------------------------------------------------------------------- routing


async def test_route_values_are_url_decoded_and_literals_case_insensitive() -> None:
    async with serve() as client:
        raw = client.make_url("/").join(URL("/api/users/alice%40contoso.test/presence", encoded=True))
        resp = await client.session.get(raw, headers=AUTH)
        assert resp.status == 200
        assert await resp.json() == {"user": "alice@contoso.test"}

        raw = client.make_url("/").join(URL("/API/Users/Ann%20Lee/PRESENCE/", encoded=True))
        resp = await client.session.get(raw, headers=AUTH)
        assert (resp.status, await resp.json()) == (200, {"user": "Ann Lee"})


async def test_literal_segment_beats_a_parameter() -> None:
    async with serve() as client:
        resp = await client.post("/api/presence/query", headers=AUTH)
        assert await resp.json() == {"fn": "presence_query"}
        resp = await client.post("/api/schedules/query", headers=AUTH)
        assert await resp.json() == {"fn": "thing_query", "thing": "schedules"}


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        (
            "/api/schedules/3f2b1c4e-8a9d-4e7f-b6c5-1d2e3f4a5b6c",
            200,
            {"id": "3f2b1c4e-8a9d-4e7f-b6c5-1d2e3f4a5b6c"},
        ),
        ("/api/schedules/not-a-guid", 404, None),
        ("/api/items/42", 200, {"n": "42"}),
        ("/api/items/-7", 200, {"n": "-7"}),
        ("/api/items/4x", 404, None),
        ("/api/items/99999999999", 404, None),  # beyond int32, as ASP.NET's int constraint
        ("/api/letters/abcXYZ", 200, {"word": "abcXYZ"}),
        ("/api/letters/abc1", 404, None),
        ("/api/greet", 200, {}),
        ("/api/greet/bob", 200, {"name": "bob"}),
        ("/api/greet/bob/extra", 404, None),
        ("/api/files/a/b%20c/d.txt", 200, {"rest": "a/b c/d.txt"}),
        ("/api/files", 200, {}),
        ("/api/nothing/here", 404, None),
        ("/elsewhere/health", 404, None),
    ],
)
async def test_templates_constraints_optional_and_catch_all(path: str, status: int, body: object) -> None:
    async with serve() as client:
        resp = await client.get(path, headers=AUTH)
        assert resp.status == status
        if body is not None:
            assert await resp.json() == body


async def test_method_picks_the_function_and_a_wrong_method_is_404_like_the_real_host() -> None:
    async with serve() as client:
        assert await (await client.put("/api/session", headers=AUTH)).json() == {"fn": "put_session"}
        resp = await client.delete("/api/session", headers=AUTH)
        assert resp.status == 204
        assert (await client.patch("/api/session", headers=AUTH)).status == 404
        assert (await client.get("/api/echo", headers=AUTH)).status == 404
        assert (await client.get("/api/presence/query", headers=AUTH)).status == 404
        assert CALLS == []
        # no `methods` means every method
        assert (await client.delete("/api/items/1", headers=AUTH)).status == 200


async def test_route_prefix_from_host_json_setting() -> None:
    async with serve(route_prefix="") as client:
        assert (await client.get("/health")).status == 200
        assert (await client.get("/api/health")).status == 404
    async with serve(route_prefix="svc/v1") as client:
        assert (await client.get("/svc/v1/health")).status == 200


def test_route_templates_the_host_cannot_serve_are_refused_clearly() -> None:
    with pytest.raises(HostError, match="mixes text and parameters"):
        RouteTemplate.parse("files/{name}.{ext}")
    with pytest.raises(HostError, match="only be the last segment"):
        RouteTemplate.parse("a/{b?}/c")
    with pytest.raises(HostError, match="constraint 'regex"):
        RouteTemplate.parse("a/{b:regex(x)}")
    with pytest.raises(HostError, match="appears twice"):
        RouteTemplate.parse("a/{b}/{B}")


def test_functions_with_other_triggers_or_bindings_are_listed_as_skipped_not_served() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
    def on_message(msg: func.QueueMessage) -> None:
        pass

    @app.route(route="enqueue")
    @app.queue_output(arg_name="out", queue_name="work", connection="AzureWebJobsStorage")
    def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
        return func.HttpResponse("queued")

    host = create_host_app(app, function_key=None, run_timers=False)[HOST_KEY]
    assert host.names == []
    assert host.describe() == [
        "  skipped on_message  (queueTrigger: not supported by the local host)",
        "  skipped enqueue  (bindings queue: not supported by the local host)",
    ]


def test_a_bad_route_names_its_function() -> None:
    app = func.FunctionApp()

    @app.route(route="files/{name}.{ext}")
    def files(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    with pytest.raises(HostError, match=r"function files: route 'files/\{name\}\.\{ext\}'"):
        create_host_app(app, function_key=None)


def test_precedence_orders_literal_constrained_parameter_catch_all() -> None:
    ordered = ["a/b", "a/{x:int}", "a/{x}", "a/{*x}"]
    ranked = sorted(ordered[::-1], key=lambda t: RouteTemplate.parse(t).precedence)
    assert ranked == ordered


# -------------------------------------------------------------------------------- request / response


async def test_request_passthrough_and_response_headers() -> None:
    async with serve() as client:
        resp = await client.post(
            "/api/echo?a=1&b=two%20words", data=b"\x00raw body", headers={**AUTH, "X-Test": "hello"}
        )
        assert resp.status == 201
        assert resp.headers["X-Echo"] == "yes"
        assert resp.headers["Location"] == "/api/echo/1"
        assert resp.headers["Content-Type"] == "application/json"
        echoed = await resp.json()
        assert echoed["method"] == "POST"
        assert echoed["params"] == {"a": "1", "b": "two words"}
        assert echoed["header"] == "hello"
        assert echoed["body"] == "\x00raw body"
        assert echoed["url"].startswith("http://127.0.0.1:")
        assert echoed["url"].endswith("/api/echo?a=1&b=two%20words")
        assert CALLS[0] != "echo in MainThread"  # a sync function runs off the event loop


async def test_content_type_from_mimetype_and_charset_or_an_explicit_header() -> None:
    async with serve() as client:
        resp = await client.get("/api/page", headers=AUTH)
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert (await resp.read()).decode() == "<p>hé</p>"
        resp = await client.get("/api/problem", headers=AUTH)
        assert resp.status == 404
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert await resp.read() == b'{"status": 404}'


async def test_an_exception_is_500_with_empty_body_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="localdev.host")
    async with serve() as client:
        resp = await client.get("/api/boom", headers=AUTH)
        assert resp.status == 500
        assert await resp.read() == b""
    failed = [r for r in caplog.records if "Functions.boom" in r.getMessage()]
    assert failed
    assert failed[0].exc_info is not None
    assert "kaboom" in str(failed[0].exc_info[1])


@pytest.mark.parametrize(
    "raw",
    [
        "/api/nowhere%0A2026-01-01%2000:00:00,000%20INFO%20localdev.host:%20Executed%20'Functions.x'",
        "/api/users/al%0D%0Aice%00%E2%80%AE/presence",  # served: a value with CR LF, NUL, a bidi control
        "/api/users/x%0Ay/presence?patch",  # a route that exists for other methods only
        "/api/files/x%0Ay",  # without the key: the 401 line
    ],
)
async def test_the_access_log_shows_a_path_on_one_line_with_control_characters_escaped(
    caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    caplog.set_level(logging.INFO, logger="localdev.host")
    async with serve() as client:
        url = client.make_url("/").join(URL(raw, encoded=True))
        headers = {} if "files" in raw else AUTH
        await client.session.request("PATCH" if "patch" in raw else "GET", url, headers=headers)
    [line] = [r.getMessage() for r in caplog.records if r.name == "localdev.host"]
    assert line.isprintable(), line
    assert "%0A" in line
    if "ice" in raw:
        assert "al%0D%0Aice%00%E2%80%AE" in line
        assert line.startswith("Executed 'Functions.get_presence'")
    if "nowhere" in raw:
        assert "/api/nowhere%0A2026-01-01%2000:00:00,000%20INFO" in line
        assert line.startswith("404 GET")


def test_what_the_access_log_escapes_reads_back_as_the_path() -> None:
    path = "/api/users/Ann Lee/50%/a\nb\x00\u202e\u00e9\u4e2d"
    shown = _loggable(path)
    assert shown == "/api/users/Ann%20Lee/50%25/a%0Ab%00%E2%80%AE\u00e9\u4e2d"
    assert unquote(shown) == path


# ---------------------------------------------------------------------------------------------- keys


async def test_function_key_in_header_or_code_and_wrong_keys_never_reach_the_function() -> None:
    async with serve() as client:
        assert (await client.get("/api/users/bob/presence")).status == 401
        assert (
            await client.get("/api/users/bob/presence", headers={"x-functions-key": "nope"})
        ).status == 401
        resp = await client.get("/api/users/bob/presence?code=nope")
        assert (resp.status, await resp.read()) == (401, b"")
        assert (await client.get("/api/keys/admin")).status == 401
        assert CALLS == []
        assert (await client.get("/api/users/bob/presence", headers=AUTH)).status == 200
        assert (await client.get(f"/api/users/bob/presence?code={KEY}")).status == 200
        assert (await client.get("/api/keys/admin", headers=AUTH)).status == 200
        assert (await client.get("/api/health")).status == 200
        assert CALLS == ["get_presence", "get_presence", "admin_level", "health"]


async def test_without_a_key_nothing_is_checked_and_a_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="localdev.host")
    async with serve(key=None) as client:
        assert (await client.get("/api/users/bob/presence")).status == 200
        assert (await client.post("/admin/functions/ticker")).status == 202
    warnings = [r.getMessage() for r in caplog.records if "function keys are off" in r.getMessage()]
    assert len(warnings) == 1


# --------------------------------------------------------------------------------------------- admin


async def test_admin_run_answers_202_after_the_timer_finished() -> None:
    async with serve() as client:
        resp = await client.post("/admin/functions/ticker", json={"input": ""}, headers=AUTH)
        assert resp.status == 202
        assert TIMER_RUNS == [{"fn": "ticker", "past_due": False}]
        resp = await client.post("/admin/functions/TICKER", headers=AUTH)  # names are case-insensitive
        assert resp.status == 202
        assert len(TIMER_RUNS) == 2


async def test_admin_run_reports_failure_unknown_http_and_needs_the_key() -> None:
    async with serve() as client:
        resp = await client.post("/admin/functions/failing_timer", json={"input": ""}, headers=AUTH)
        assert resp.status == 500
        assert await resp.json() == {"error": "RuntimeError: storage down"}
        resp = await client.post("/admin/functions/no_such", headers=AUTH)
        assert resp.status == 404
        resp = await client.post("/admin/functions/health", headers=AUTH)
        assert resp.status == 400
        resp = await client.post("/admin/functions/ticker")
        assert resp.status == 401
        resp = await client.post("/admin/functions/ticker", data=b"not json", headers=AUTH)
        assert resp.status == 400
        assert TIMER_RUNS == []


class WatchedLock(asyncio.Lock):
    """A timer's lock that tells when a run has to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.waited.set()
        return await super().acquire()


async def test_admin_runs_of_one_timer_are_serialised() -> None:
    async with serve() as client:
        lock = WatchedLock()
        client.app[HOST_KEY].timers["slow_timer"].lock = lock
        first = asyncio.create_task(client.post("/admin/functions/slow_timer", headers=AUTH))
        second = asyncio.create_task(client.post("/admin/functions/slow_timer", headers=AUTH))
        await asyncio.wait_for(lock.waited.wait(), 5)  # one run holds the lock, the other asks for it
        assert TIMER_RUNS == [{"fn": "slow_timer", "at": "start"}]  # ... and waits
        SLOW_TIMER_GATE.set()
        assert [(await t).status for t in (first, second)] == [202, 202]
        assert [r["at"] for r in TIMER_RUNS] == ["start", "end", "start", "end"]


async def test_status_is_anonymous_and_lists_the_functions() -> None:
    async with serve() as client:
        resp = await client.get("/admin/host/status")
        assert resp.status == 200
        status = await resp.json()
        assert status["state"] == "Running"
        assert {"get_presence", "ticker", "slow_timer", "health"} <= set(status["functions"])


# --------------------------------------------------------------------------------------------- clock


def _to_the_millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # as /admin/clock writes it


async def test_clock_endpoints_move_the_given_clock() -> None:
    clock = Clock()
    set_at = datetime(2030, 3, 30, 23, 30, tzinfo=UTC)
    async with serve(clock=clock) as client:
        before = _to_the_millisecond(datetime.now(UTC))
        now = datetime.fromisoformat((await (await client.get("/admin/clock")).json())["now"])
        assert before <= now <= datetime.now(UTC)  # the system's time, untouched

        resp = await client.put(
            "/admin/clock", json={"now": "2030-03-31T01:30:00+02:00", "frozen": True}, headers=AUTH
        )
        assert (resp.status, (await resp.json())["now"]) == (200, "2030-03-30T23:30:00.000Z")
        assert clock.now() == set_at  # stopped there

        resp = await client.put("/admin/clock", json={"advanceSeconds": 3600}, headers=AUTH)
        assert (await resp.json())["now"] == "2030-03-31T00:30:00.000Z"
        assert clock.now() == set_at + timedelta(hours=1)

        before = datetime.now(UTC)  # not frozen: time runs on from the moment set, no faster
        resp = await client.put("/admin/clock", json={"now": "2030-03-31T01:30:00+02:00"}, headers=AUTH)
        assert resp.status == 200
        ran = clock.now() - set_at
        assert timedelta(0) <= ran <= datetime.now(UTC) - before

        assert (await client.put("/admin/clock", json={"reset": True}, headers=AUTH)).status == 200
        before = datetime.now(UTC)
        assert before <= clock.now() <= datetime.now(UTC)  # the system's time again


async def test_clock_changes_need_the_key_and_valid_input() -> None:
    clock = Clock()
    stopped = datetime(2030, 1, 1, tzinfo=UTC)
    clock.set_now(stopped, frozen=True)
    async with serve(clock=clock) as client:
        assert (await client.put("/admin/clock", json={"advanceSeconds": 60})).status == 401
        for bad in (
            {"now": "2030-03-31T01:30:00"},
            {"now": "soon"},
            {"advanceSeconds": "60"},
            {"reset": False},
            {"advanceSeconds": 1, "reset": True},
            ["reset"],
        ):
            assert (await client.put("/admin/clock", json=bad, headers=AUTH)).status == 400, bad
        assert clock.now() == stopped  # neither moved, nor reset, nor unfrozen


# -------------------------------------------------------------------------------------------- timers


def test_schedule_settings_are_resolved_and_missing_ones_fail_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web_app = create_host_app(make_app(), function_key=KEY, run_timers=False)
    assert web_app[HOST_KEY].timers["ticker"].schedule.expression == "0 */5 * * * *"
    monkeypatch.delenv("LOCALDEV_TEST_TICK")
    with pytest.raises(HostError, match=r"ticker: .*LOCALDEV_TEST_TICK"):
        create_host_app(make_app(), function_key=KEY, run_timers=False)


class FakeTime:
    """Wall time that moves only when someone sleeps: the scheduler runs without waiting. With `stop_at`,
    time ends there: a sleep past it never returns (and sets `stopped`), so a schedule runs a known number
    of times."""

    def __init__(self, start: datetime, stop_at: datetime | None = None) -> None:
        self.moment = start
        self.oversleep = timedelta(0)
        self.stop_at = stop_at
        self.stopped = asyncio.Event()
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return self.moment

    async def sleep(self, seconds: float) -> None:
        moment = self.moment + timedelta(seconds=seconds) + self.oversleep
        if self.stop_at is not None and moment > self.stop_at:
            self.stopped.set()
            await asyncio.Event().wait()  # until the host cancels its timers
        self.moment = moment
        await asyncio.sleep(0)


def _timer_app(schedule: str, clock: FakeTime, *, run_on_startup: bool = False) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.timer_trigger(schedule=schedule, arg_name="t", run_on_startup=run_on_startup)
    async def every_second(t: func.TimerRequest) -> None:
        TIMER_RUNS.append({"fn": "every_second", "at": clock.moment, "past_due": t.past_due})

    return app


async def test_timers_run_on_their_schedule_when_the_host_runs() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, 200_000, tzinfo=UTC)
    clock = FakeTime(start, stop_at=start + timedelta(seconds=2.5))
    async with serve(_timer_app("*/1 * * * * *", clock), run_timers=True, timer_time=clock):
        await asyncio.wait_for(clock.stopped.wait(), 5)
    assert [
        {"fn": "every_second", "at": datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC), "past_due": False}
        for second in (1, 2)
    ] == TIMER_RUNS


# Event-loop turns a started timer needs to make its startup run (it makes it in fewer).
TURNS = 20


async def test_run_on_startup_and_no_runs_without_timers() -> None:
    start = datetime(2026, 3, 2, 9, 0, 0, 200_000, tzinfo=UTC)
    clock = FakeTime(start, stop_at=start + timedelta(days=1))
    async with serve(
        _timer_app("0 0 0 1 1 *", clock, run_on_startup=True), run_timers=True, timer_time=clock
    ):
        for _ in range(TURNS):
            await asyncio.sleep(0)
        assert [{"fn": "every_second", "at": start, "past_due": False}] == TIMER_RUNS  # at once
        await asyncio.wait_for(clock.stopped.wait(), 5)  # a day on, the yearly schedule still waits
    assert len(TIMER_RUNS) == 1
    TIMER_RUNS.clear()
    idle = FakeTime(start, stop_at=start + timedelta(days=1))
    async with serve(
        _timer_app("*/1 * * * * *", idle, run_on_startup=True), run_timers=False, timer_time=idle
    ):
        for _ in range(TURNS):
            await asyncio.sleep(0)
    assert TIMER_RUNS == []
    assert (idle.reads, idle.moment) == (0, start)  # no timer even looked at the time


def _fake_timer(clock: FakeTime, fn: object, schedule: str = "*/1 * * * * *", **kwargs: object) -> object:
    web_app = create_host_app(_timer_app(schedule, clock), function_key=None, run_timers=False)
    timer = web_app[HOST_KEY].timers["every_second"]
    timer.fn = fn  # type: ignore[assignment]
    timer.now = clock.now
    timer.sleep = clock.sleep
    for name, value in kwargs.items():
        setattr(timer, name, value)
    return timer


async def test_a_long_run_makes_the_schedule_skip_instead_of_overlapping() -> None:
    clock = FakeTime(datetime(2026, 1, 1, 0, 0, 0, 200_000, tzinfo=UTC))
    starts: list[datetime] = []
    running = 0
    overlap = 0
    done = asyncio.Event()

    async def slow(t: func.TimerRequest) -> None:
        nonlocal running, overlap
        running += 1
        overlap = max(overlap, running)
        starts.append(clock.now())
        await clock.sleep(3.5)  # longer than the one-second period
        running -= 1
        if len(starts) == 3:
            done.set()

    timer = _fake_timer(clock, slow)
    task = asyncio.create_task(timer.run_forever())  # type: ignore[attr-defined]
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    assert starts[:3] == [base + timedelta(seconds=s) for s in (1, 5, 9)]  # it runs on until cancelled
    assert overlap == 1


async def test_a_scheduled_run_is_skipped_while_an_admin_run_holds_the_lock() -> None:
    clock = FakeTime(datetime(2026, 1, 1, tzinfo=UTC))
    gate = asyncio.Event()
    kinds: list[str] = []

    async def fn(t: func.TimerRequest) -> None:
        kinds.append("run")
        await gate.wait()

    timer = _fake_timer(clock, fn)
    admin = asyncio.create_task(timer.run(reason="admin"))  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    assert timer.lock.locked()  # type: ignore[attr-defined]
    task = asyncio.create_task(timer.run_forever())  # type: ignore[attr-defined]
    for _ in range(100):
        if timer.runs_skipped >= 3:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0)
    assert timer.runs_skipped >= 3  # type: ignore[attr-defined]
    assert kinds == ["run"]
    gate.set()
    await admin
    task.cancel()


async def test_past_due_when_the_run_starts_late_and_errors_do_not_stop_the_loop() -> None:
    clock = FakeTime(datetime(2026, 1, 1, tzinfo=UTC))
    clock.oversleep = timedelta(seconds=5)
    seen: list[bool] = []
    done = asyncio.Event()

    async def flaky(t: func.TimerRequest) -> None:
        seen.append(t.past_due)
        if len(seen) == 3:
            done.set()
        raise RuntimeError("every run fails")

    timer = _fake_timer(clock, flaky, schedule="0 * * * * *")
    task = asyncio.create_task(timer.run_forever())  # type: ignore[attr-defined]
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    assert seen[:3] == [True, True, True]


async def test_a_punctual_run_is_not_past_due() -> None:
    clock = FakeTime(datetime(2026, 1, 1, tzinfo=UTC))
    seen: list[tuple[datetime, bool]] = []
    done = asyncio.Event()

    async def fn(t: func.TimerRequest) -> None:
        seen.append((clock.now(), t.past_due))
        if len(seen) == 2:
            done.set()

    timer = _fake_timer(clock, fn, schedule="0 30 9 * * *")
    task = asyncio.create_task(timer.run_forever())  # type: ignore[attr-defined]
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    assert seen[:2] == [
        (datetime(2026, 1, 1, 9, 30, tzinfo=UTC), False),
        (datetime(2026, 1, 2, 9, 30, tzinfo=UTC), False),
    ]
