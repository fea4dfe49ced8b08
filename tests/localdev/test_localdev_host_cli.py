"""`python -m localdev host` as a process: app directory, local.settings.json, host.json, banner, signals."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from localdev.ports import free_port
from localdev.settings import AppDirError, load_local_settings, read_log_levels, read_route_prefix

REPO = Path(__file__).resolve().parents[2]

APP = """
import os
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

@app.route(route="env/{name}", methods=["GET"])
def env(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))

@app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("pong")

@app.timer_trigger(schedule="%TICK%", arg_name="t")
def tick(t: func.TimerRequest) -> None:
    pass
"""


def write_app(
    app_dir: Path, source: str = APP, *, settings: dict[str, object] | None = None, prefix: str | None = "svc"
) -> Path:
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / "function_app.py").write_text(textwrap.dedent(source))
    if prefix is not None:
        (app_dir / "host.json").write_text(
            json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": prefix}}})
        )
    if settings is not None:
        (app_dir / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": settings}))
    return app_dir


def run_host(app_dir: Path, port: int, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "localdev", "host", "--port", str(port), "--app-dir", str(app_dir), *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"FUNCTION_KEY", "TICK", "GREETING", "PRESET"}}
    env.update(extra)
    return env


def get(url: str, key: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"x-functions-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_host_process_serves_the_app_dir_with_its_settings_and_stops_on_sigterm(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app", settings={"TICK": "0 0 0 1 1 *", "GREETING": "hi", "PRESET": "file"}
    )
    port = free_port()
    proc = run_host(app_dir, port, base_env(FUNCTION_KEY="k1", PRESET="env"))
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first == f"local host listening on http://127.0.0.1:{port}/svc"
        listing = [proc.stdout.readline().rstrip("\n") for _ in range(3)]
        assert listing == [
            "  GET /svc/env/{name}  (env)",
            "  ALL /svc/ping  (ping)",
            "  timer tick  (0 0 0 1 1 *, from %TICK%)",
        ]
        assert get(f"http://127.0.0.1:{port}/svc/env/GREETING", "k1") == (200, "hi")
        assert get(f"http://127.0.0.1:{port}/svc/env/PRESET", "k1") == (200, "env")  # the environment wins
        assert get(f"http://127.0.0.1:{port}/svc/env/GREETING")[0] == 401
        assert get(f"http://127.0.0.1:{port}/svc/ping") == (200, "pong")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_app_that_fails_to_import_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", 'raise RuntimeError("SCHEDULE_TICK: not a valid NCRONTAB")\n')
    proc = run_host(app_dir, free_port(), base_env())
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    cause = "RuntimeError: SCHEDULE_TICK: not a valid NCRONTAB"
    assert lines == [f"local host: cannot load the function app from {app_dir}: {cause}"]


def test_a_missing_schedule_setting_fails_start_up_naming_it(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", settings={})
    proc = run_host(app_dir, free_port(), base_env())
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "app setting TICK, which is not set" in err.splitlines()[-1]


def test_only_loopback_addresses_are_served(tmp_path: Path) -> None:
    proc = run_host(write_app(tmp_path / "app"), free_port(), base_env(), "--host", "0.0.0.0")
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "not a loopback address" in err


def test_local_settings_never_override_the_environment(tmp_path: Path) -> None:
    write_app(tmp_path, settings={"A": "file", "B": "file", "FLAG": True, "N": 3})
    env = {"A": "env"}
    assert sorted(load_local_settings(tmp_path, env)) == ["B", "FLAG", "N"]
    assert env == {"A": "env", "B": "file", "FLAG": "true", "N": "3"}
    assert load_local_settings(tmp_path / "nowhere", env) == []
    (tmp_path / "local.settings.json").write_text('{"Values": {"X": {"nested": 1}}}')
    with pytest.raises(AppDirError, match="'X' must be a string"):
        load_local_settings(tmp_path, {})
    (tmp_path / "local.settings.json").write_text("{not json")
    with pytest.raises(AppDirError, match=r"local\.settings\.json"):
        load_local_settings(tmp_path, {})


def test_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    assert read_route_prefix(tmp_path) == "api"
    write_app(tmp_path, prefix="")
    assert read_route_prefix(tmp_path) == ""
    write_app(tmp_path, prefix="/v2/")
    assert read_route_prefix(tmp_path) == "v2"
    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    assert read_route_prefix(tmp_path) == "api"


def test_sigint_stops_the_host_cleanly(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", settings={"TICK": "0 0 0 1 1 *"})
    proc = run_host(app_dir, free_port(), base_env())
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("local host listening on ")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_log_levels_come_from_host_json(tmp_path: Path) -> None:
    levels = {
        "default": "Warning",
        "Azure.Core": "Error",
        "Host.Results": "Trace",
        "Function": "Debug",
        "x": "Loud",
    }
    (tmp_path / "host.json").write_text(json.dumps({"logging": {"logLevel": levels}}))
    assert read_log_levels(tmp_path) == {"": logging.WARNING, "azure.core": logging.ERROR}
    assert read_log_levels(tmp_path / "nowhere") == {}
