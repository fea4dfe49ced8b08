"""`python -m localdev services` (Azurite with host storage + the Graph emulator, for `func start`) and
local.settings.example.json: the example parses as the app's settings and names exactly what the services
serve on their default ports; the printed values wire the real app to them (served here by the local host,
which reads local.settings.json as Core Tools does)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from azure.data.tables import TableServiceClient

from localdev.azurite import Azurite
from localdev.ports import free_port, http_status, port_answers
from localdev.services import DEFAULT_PORTS, DEVELOPMENT_STORAGE, example_settings, local_settings
from localdev.stack import HOST_READY, Stack
from shared.platform.config import Settings
from tests.localdev.test_localdev_stack import call, read_until

REPO = Path(__file__).resolve().parents[2]
DEPLOYED = ("function_app.py", "functions", "shared", "host.json")


def test_the_example_settings_are_the_apps_settings_for_func_start():
    values = example_settings()
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == DEVELOPMENT_STORAGE  # timers need host storage under func start
    settings = Settings.from_env(values)
    assert settings.graph_is_loopback
    assert settings.tables_connection_string
    assert "TableEndpoint=http://127.0.0.1:10002/" in values["TABLES_CONNECTION_STRING"]
    declared = {f.alias for f in Settings.model_fields.values() if f.alias}
    # App Service's own (without WEBSITE_HOSTNAME the answers' URLs are relative, which func start serves)
    assert declared - set(values) == {"WEBSITE_AUTH_ENABLED", "WEBSITE_HOSTNAME"}


def test_the_example_names_what_the_services_serve_on_their_default_ports(tmp_path: Path):
    azurite = Azurite(
        tmp_path,
        port=DEFAULT_PORTS["table"],
        blob_port=DEFAULT_PORTS["blob"],
        queue_port=DEFAULT_PORTS["queue"],
    )
    stack = Stack(app_dir=REPO, data_dir=tmp_path, graph_port=DEFAULT_PORTS["graph"], azurite=azurite)
    values = local_settings(stack)  # nothing started: only the addresses
    assert values == {name: example_settings()[name] for name in values}


def test_services_start_azurite_and_the_emulator_alone_and_print_the_settings(tmp_path: Path):
    data = tmp_path / "data"
    with socket.socket() as busy:  # the default ports may be in use on this machine: take free ones
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = {name: free_port() for name in ("queue", "table", "graph")}
        argv = ["--data-dir", str(data), "--blob-port", str(taken)]
        argv += [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))]
        proc = subprocess.Popen(
            [sys.executable, "-m", "localdev", "services", *argv], cwd=REPO, stdout=subprocess.PIPE
        )
        try:
            banner = read_until(proc, "Ctrl-C stops Azurite and the emulator.", 60)
            printed = dict(re.findall(r'^  "(\w+)": "(.*)",$', banner, re.M))
            assert set(printed) == {"AzureWebJobsStorage", "TABLES_CONNECTION_STRING", "GRAPH_BASE_URL"}
            blob_port = int(
                re.search(r"BlobEndpoint=http://127\.0\.0\.1:(\d+)/", printed["AzureWebJobsStorage"])[1]
            )
            assert f"port {taken} (blob) is taken, so blob listens on {blob_port}" in banner
            assert f"QueueEndpoint=http://127.0.0.1:{ports['queue']}/" in printed["AzureWebJobsStorage"]
            assert printed["GRAPH_BASE_URL"] == f"http://127.0.0.1:{ports['graph']}/v1.0"
            assert "func start" in banner
            # what they point at answers: host storage (blob and queue), tables, the emulator
            assert port_answers(blob_port)
            assert port_answers(ports["queue"])
            tables = TableServiceClient.from_connection_string(printed["TABLES_CONNECTION_STRING"])
            tables.create_table("servicescheck")
            assert [t.name for t in tables.list_tables()] == ["servicescheck"]
            assert http_status(f"http://127.0.0.1:{ports['graph']}/_emulator/users") == 200
            assert not (data / "logs" / "host.log").exists()  # no host: func start is the host

            # The app itself, with the example's settings and these values in local.settings.json.
            app_dir = tmp_path / "app"
            app_dir.mkdir()
            for name in DEPLOYED:
                (app_dir / name).symlink_to(REPO / name)
            settings = {"IsEncrypted": False, "Values": {**example_settings(), **printed}}
            (app_dir / "local.settings.json").write_text(json.dumps(settings))
            assert_the_app_answers_healthy(app_dir, tmp_path / "host.log")

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not port_answers(ports["table"])
    assert not port_answers(ports["graph"])


def assert_the_app_answers_healthy(app_dir: Path, log: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in example_settings()}
    env["PYTHONPATH"] = str(REPO)
    with open(log, "wb") as out:
        host = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localdev",
                "host",
                "--port",
                str(port),
                "--app-dir",
                str(app_dir),
                "--no-timers",
            ],
            cwd=app_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(300):
            if HOST_READY in log.read_text(errors="replace") or host.poll() is not None:
                break
            time.sleep(0.1)
        assert HOST_READY in log.read_text(errors="replace"), log.read_text(errors="replace")
        assert call(f"http://127.0.0.1:{port}/api/health")[0] == 200
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(20)
