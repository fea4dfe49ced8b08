"""The local stack as processes: Azurite, the Graph emulator and the host wired through the environment."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localdev.ports import port_answers
from localdev.stack import Stack, StackError

APP = """
import os
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

@app.route(route="env/{name}", methods=["GET"])
def env(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))

@app.route(route="health", auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")

@app.timer_trigger(schedule="%TICK%", arg_name="t")
def tick(t: func.TimerRequest) -> None:
    with open(os.environ["TICK_FILE"], "a") as f:
        f.write("tick\\n")
"""

GRAPH_STAND_IN = """
import argparse, asyncio
from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
parser.add_argument("--users")
args = parser.parse_args()

async def me(request):
    return web.json_response({"users": args.users})

async def main():
    app = web.Application()
    app.router.add_get("/v1.0/standin", me)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(f"graph emulator listening on http://127.0.0.1:{args.port}/v1.0", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


class StandInStack(Stack):
    """The stack with a ten-line stand-in for the Graph emulator, whose own tests live elsewhere."""

    stand_in: Path

    def graph_argv(self) -> list[str]:
        return [sys.executable, str(self.stand_in), "--port", str(self.graph_port), "--users", self.users]


def make_stack(tmp_path: Path, source: str = APP, **kwargs: object) -> StandInStack:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text(textwrap.dedent(source))
    env = {"TICK": "0 0 0 1 1 *", "TICK_FILE": str(tmp_path / "ticks.txt"), "EXTRA": "yes"}
    stack = StandInStack(app_dir=app_dir, data_dir=tmp_path / "data", env=env, **kwargs)  # type: ignore[arg-type]
    stack.stand_in = tmp_path / "graph_stand_in.py"
    stack.stand_in.write_text(textwrap.dedent(GRAPH_STAND_IN))
    return stack


def call(url: str, *, key: str | None = None, method: str = "GET") -> tuple[int, str]:
    headers = {"x-functions-key": key} if key else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stack_wires_the_app_to_azurite_and_graph_and_survives_host_crashes(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, function_key="stack-key", table_prefix="t1")
    with stack:
        pids = stack.pids
        assert set(pids) == {"host", "graph", "azurite"}
        assert stack.api_url == f"http://127.0.0.1:{stack.host_port}/api"
        assert call(f"{stack.host_url}/admin/host/status")[0] == 200
        assert call(f"{stack.api_url}/health") == (200, "ok")
        assert call(f"{stack.api_url}/env/EXTRA")[0] == 401
        for name, value in [
            ("GRAPH_BASE_URL", f"http://127.0.0.1:{stack.graph_port}/v1.0"),
            ("TABLES_CONNECTION_STRING", stack.azurite.connection_string),
            ("TABLE_PREFIX", "t1"),
            ("FUNCTION_KEY", "stack-key"),
            ("EXTRA", "yes"),
        ]:
            assert call(f"{stack.api_url}/env/{name}", key="stack-key") == (200, value)
        assert stack.graph_base_url == f"{stack.graph_url}/v1.0"
        assert json.loads(call(f"{stack.graph_base_url}/standin")[1]) == {"users": "demo"}
        assert port_answers(stack.azurite.port)

        assert call(f"{stack.host_url}/admin/functions/tick", key="stack-key", method="POST")[0] == 202
        assert (tmp_path / "ticks.txt").read_text() == "tick\n"

        stack.kill_host()
        assert gone(pids["host"])
        assert not port_answers(stack.host_port)
        stack.start_host()
        assert call(f"{stack.api_url}/health") == (200, "ok")
        crashed_once = stack.pids["host"]
        stack.restart_host()
        assert stack.pids["host"] not in {pids["host"], crashed_once}
        assert call(f"{stack.api_url}/env/TABLE_PREFIX", key="stack-key") == (200, "t1")

        everything = stack.pids
        stack.stop()
        assert stack.pids == {}
        assert all(gone(pid) for pid in everything.values())
        assert stack.host_log.read_text().count("local host listening on ") == 3
    assert (tmp_path / "data").is_dir()  # a given data_dir is kept, logs included
    assert stack.graph_log.is_file()


def test_a_host_that_cannot_start_fails_with_its_log_and_stops_the_rest(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, source='raise RuntimeError("TABLE_PREFIX must be lowercase")\n')
    with pytest.raises(StackError) as caught:
        stack.start()
    assert "the local host exited with code 1" in str(caught.value)
    assert "RuntimeError: TABLE_PREFIX must be lowercase" in str(caught.value)
    assert stack.pids == {}
    assert not port_answers(stack.azurite.port)
    assert not port_answers(stack.graph_port)


def test_without_a_key_the_host_gets_no_function_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTION_KEY", "leaked-from-the-shell")
    stack = make_stack(tmp_path, run_timers=False)
    env = stack.host_env()
    assert "FUNCTION_KEY" not in env
    assert env["TABLE_PREFIX"] == "presence"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(Path(__file__).resolve().parents[2])
