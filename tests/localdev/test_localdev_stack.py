"""The local stack as processes: Azurite, the Graph emulator and the host wired through the environment."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localdev.ports import port_answers
from localdev.stack import Stack, StackError

REPO = Path(__file__).resolve().parents[2]

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


def write_app(app_dir: Path, source: str = APP) -> Path:
    app_dir.mkdir(parents=True)
    (app_dir / "function_app.py").write_text(textwrap.dedent(source))
    return app_dir


def make_stack(tmp_path: Path, source: str = APP, **kwargs: object) -> Stack:
    env = {"TICK": "0 0 0 1 1 *", "TICK_FILE": str(tmp_path / "ticks.txt"), "EXTRA": "yes"}
    app_dir = write_app(tmp_path / "app", source)
    return Stack(app_dir=app_dir, data_dir=tmp_path / "data", env=env, **kwargs)  # type: ignore[arg-type]


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
        users = json.loads(call(f"{stack.graph_url}/_emulator/users")[1])["value"]
        assert "alice@contoso.test" in [u["userPrincipalName"] for u in users]  # --users demo
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


def read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """What the process printed up to and including `marker`, without blocking past `timeout`."""
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in out:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
        if not ready:
            raise AssertionError(f"no {marker!r} within {timeout} s; printed so far:\n{out.decode()}")
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            raise AssertionError(f"exited with {proc.wait()} before {marker!r}; printed:\n{out.decode()}")
        out += chunk
    return out.decode()


def test_up_takes_another_port_when_7071_is_busy_prints_what_to_call_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    app_dir = write_app(tmp_path / "app")
    env = {**os.environ, "TICK": "0 0 0 1 1 *", "TICK_FILE": str(tmp_path / "ticks.txt")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        argv = [
            "--port",
            str(taken),
            "--function-key",
            "up-key",
            "--data-dir",
            str(tmp_path / "d"),
            "--app-dir",
            str(app_dir),
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "localdev", "up", *argv], cwd=REPO, env=env, stdout=subprocess.PIPE
        )
        try:
            banner = read_until(proc, "Ctrl-C stops everything.", 30)
            host_port = int(re.search(r"API +http://127\.0\.0\.1:(\d+)/api", banner).group(1))  # type: ignore[union-attr]
            graph_port = int(re.search(r"Graph +http://127\.0\.0\.1:(\d+)/v1\.0", banner).group(1))  # type: ignore[union-attr]
            assert f"port {taken} is taken, so the host listens on {host_port}" in banner
            assert "function key   up-key" in banner
            assert "alice@contoso.test" in banner
            assert f"curl http://127.0.0.1:{host_port}/api/health" in banner
            assert (
                f'curl -H "x-functions-key: up-key" http://127.0.0.1:{host_port}/api/users/alice@contoso.test/presence'
                in banner
            )
            assert f"curl http://127.0.0.1:{graph_port}/_emulator/requests" in banner
            assert (
                f'curl -X POST -H "x-functions-key: up-key" http://127.0.0.1:{host_port}/admin/functions/tick'
                in banner
            )
            assert "  GET /api/env/{name}  (env)" in banner
            assert call(f"http://127.0.0.1:{host_port}/api/health") == (200, "ok")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not port_answers(host_port)
    assert not port_answers(graph_port)
    assert (tmp_path / "d" / "azurite" / "__azurite_db_table__.json").is_file()  # kept for the next `up`
    assert (tmp_path / "d" / "logs" / "host.log").is_file()
