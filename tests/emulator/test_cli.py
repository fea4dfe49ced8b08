"""`python -m localdev graph`: loopback only, one ready line, clean shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from localdev.graph.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_the_cli_refuses_a_non_loopback_host(host, capsys):
    assert main(["--host", host, "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_the_cli_refuses_an_app_id_that_is_not_a_guid(capsys):
    assert main(["--app-id", "my-app"]) == 2
    assert "GUID" in capsys.readouterr().err


def test_the_cli_prints_one_ready_line_serves_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-m", "localdev", "graph", "--port", "0", "--users", "none"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            line = proc.stdout.readline()
            match = re.fullmatch(r"graph emulator listening on (http://127\.0\.0\.1:(\d+))/v1\.0\n", line)
            assert match, line
            with urllib.request.urlopen(f"{match.group(1)}/_emulator/users", timeout=5) as response:
                assert json.load(response) == {"value": []}
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
