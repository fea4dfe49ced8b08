"""shared/platform/metrics.py: Graph actions named without ids, timer runs timed, and where the numbers go
(off, the worker's distro, the console, Azure Monitor's distro with metrics only)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.platform import metrics
from tests.recorded_metrics import Recorded, reader

ROOT = Path(__file__).resolve().parents[3]
USER = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"


@pytest.mark.parametrize(
    ("path", "action"),
    [
        (f"/v1.0/users/{USER}/presence/setPresence", "setPresence"),
        (f"/v1.0/users/{USER}/presence/clearPresence", "clearPresence"),
        (f"/v1.0/users/{USER}/presence/setUserPreferredPresence", "setUserPreferredPresence"),
        (f"/v1.0/users/{USER}/presence/clearUserPreferredPresence", "clearUserPreferredPresence"),
        (f"/v1.0/users/{USER}/presence/setStatusMessage", "setStatusMessage"),
        (f"/v1.0/users/{USER}/presence", "getPresence"),
        ("/v1.0/communications/getPresencesByUserId", "getPresencesByUserId"),
        ("/v1.0/$batch", "batch"),
        ("/v1.0/users/alice@contoso.com", "getUser"),
        (f"/v1.0/groups/{USER}/transitiveMembers/microsoft.graph.user", "groupMembers"),
        ("/v1.0/me", "other"),
    ],
)
def test_a_graph_request_is_named_by_its_action_never_its_ids(path, action):
    assert metrics.graph_action(path) == action


def test_a_429_counts_as_a_call_and_a_throttle():
    reader()
    recorded = Recorded()
    metrics.graph_call("setPresence", "429")
    metrics.graph_call("setPresence", "503")
    assert recorded.total("presence.graph.calls", action="setPresence") == 2
    assert recorded("presence.graph.throttles") == {frozenset({("action", "setPresence")}): 1}


async def test_a_timer_run_is_timed_with_its_outcome_and_keeps_its_signature():
    reader()
    recorded = Recorded()

    async def poll_things(timer: object) -> None:
        if timer == "boom":
            raise RuntimeError("boom")

    timed = metrics.timed_tick(poll_things)
    assert timed.__name__ == "poll_things"
    assert inspect.iscoroutinefunction(timed)
    assert list(inspect.signature(timed).parameters) == ["timer"]  # the Functions host binds by name
    await timed("tick")
    with pytest.raises(RuntimeError):
        await timed("boom")
    assert recorded("presence.timers.duration") == {
        frozenset({("timer", "poll_things"), ("outcome", "ok")}): 1,
        frozenset({("timer", "poll_things"), ("outcome", "error")}): 1,
    }


def test_without_a_destination_nothing_is_set_up():
    assert metrics.start_exporting(console=False, environ={}) == "off"


def test_when_the_worker_runs_the_distro_the_app_leaves_it_alone():
    environ = {
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "x",
    }
    assert metrics.start_exporting(console=True, environ=environ) == "worker"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS", "PYTHON_APPLICATION"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_metrics_console_prints_the_app_s_metrics():
    code = (
        "from opentelemetry import metrics as api\n"
        "from shared.platform import metrics\n"
        "print(metrics.start_exporting(console=True, environ={}))\n"
        "metrics.renewal_done('session.set')\n"
        "api.get_meter_provider().shutdown()\n"  # exports what it holds, as at the end of the process
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("console\n")
    assert '"name": "presence.renewals.done"' in out.stdout
    assert '"operation": "session.set"' in out.stdout


def test_with_application_insights_the_distro_sends_metrics_only():
    code = (
        "import logging\n"
        "from opentelemetry import metrics as api, trace\n"
        "from opentelemetry._logs import get_logger_provider\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from shared.platform import metrics\n"
        "handlers = list(logging.getLogger().handlers)\n"
        "print(metrics.start_exporting(console=False))\n"
        "print(type(api.get_meter_provider()) is MeterProvider)\n"
        "print(type(trace.get_tracer_provider()).__name__, type(get_logger_provider()).__name__)\n"
        "print(logging.getLogger().handlers == handlers)\n"
    )
    connection = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    )
    out = run_python(code, APPLICATIONINSIGHTS_CONNECTION_STRING=connection)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "azure-monitor"
    assert lines[1] == "True"  # the app's metrics go to the distro's exporter
    assert lines[2] == "ProxyTracerProvider ProxyLoggerProvider"  # the host already sends logs and requests
    assert lines[3] == "True"  # no log handler added: no log line twice in Application Insights
