"""Every metric the app records: its instruments, their names, units and attributes, here and nowhere
else (docs/operations.md lists them)."""

# Recorded through the OpenTelemetry API: until `start_exporting` sets a provider each instrument is a
# no-op. Attributes are fixed words, codes and statuses, never a user, a message or a token.

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import ParamSpec

import httpx
from opentelemetry import metrics

log = logging.getLogger(__name__)

P = ParamSpec("P")

# A hold acted on this long after it was due counts as late: the timers tick every minute, so one tick
# missed (a cold start, a long tick, the host down) shows, one tick's own jitter does not.
LATE_AFTER = timedelta(seconds=90)
CONSOLE_EXPORT_SECONDS = 30
# The distro's auto-instrumentations (its _FULLY_SUPPORTED_INSTRUMENTED_LIBRARIES), all off: the host
# already records requests and dependencies; the distro here sends the app's own metrics only.
DISTRO_INSTRUMENTATIONS = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "httpx2",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)

_meter = metrics.get_meter("presence")

_graph_calls = _meter.create_counter(
    "presence.graph.calls", unit="{call}", description="HTTP requests sent to Graph, SDK retries included"
)
_graph_throttles = _meter.create_counter(
    "presence.graph.throttles", unit="{call}", description="Graph requests answered 429"
)
_graph_budget_waits = _meter.create_counter(
    "presence.graph.budget_waits", unit="{call}", description="Graph calls held or refused by the budget"
)
_renewals_done = _meter.create_counter(
    "presence.renewals.done", unit="{change}", description="timer changes of a hold Graph accepted"
)
_renewals_failed = _meter.create_counter(
    "presence.renewals.failed", unit="{change}", description="timer changes of a hold Graph refused"
)
_renewals_late = _meter.create_counter(
    "presence.renewals.late", unit="{hold}", description="holds acted on more than 90 s after due"
)
_hold_lateness = _meter.create_histogram(
    "presence.renewals.lateness", unit="s", description="how long after its due time a hold was acted on"
)
_holds_given_up = _meter.create_counter(
    "presence.holds.given_up", unit="{hold}", description="holds given up after MAX_ATTEMPTS"
)
_schedule_transitions = _meter.create_counter(
    "presence.schedules.transitions", unit="{step}", description="schedule starts, ends and skips done"
)
_schedule_failures = _meter.create_counter(
    "presence.schedules.failures", unit="{step}", description="schedule steps that failed (retried)"
)
_schedules_failed_for_good = _meter.create_counter(
    "presence.schedules.failed_for_good", unit="{schedule}", description="schedules marked failed"
)
_watch_deliveries = _meter.create_counter(
    "presence.watches.deliveries", unit="{notification}", description="notifications POSTed by outcome"
)
_watches_disabled = _meter.create_counter(
    "presence.watches.disabled", unit="{watch}", description="watches disabled (callback failing or gone)"
)
_tick_duration = _meter.create_histogram(
    "presence.timers.duration", unit="s", description="how long one run of a timer took"
)

# Graph's presence actions as their URL's last segment; other calls are named by their shape.
_GRAPH_ACTIONS = frozenset(
    {
        "setPresence",
        "clearPresence",
        "setUserPreferredPresence",
        "clearUserPreferredPresence",
        "setStatusMessage",
        "getPresencesByUserId",
    }
)


# ---- what the code records: one call per event ------------------------------------------------------


def graph_call(action: str, status: str) -> None:
    _graph_calls.add(1, {"action": action, "status": status})
    if status == "429":
        _graph_throttles.add(1, {"action": action})


def graph_budget_wait(outcome: str) -> None:
    """shared/platform/budget.py: a call the tenant's budget held back ("waited") or refused ("refused")."""
    _graph_budget_waits.add(1, {"outcome": outcome})


def hold_due(lateness: timedelta) -> None:
    """A hold the renewal timer acts on, `lateness` after it was due."""
    seconds = max(lateness.total_seconds(), 0.0)
    _hold_lateness.record(seconds)
    if lateness > LATE_AFTER:
        _renewals_late.add(1)


def renewal_done(operation: str) -> None:
    _renewals_done.add(1, {"operation": operation})


def renewal_failed(operation: str, code: str) -> None:
    _renewals_failed.add(1, {"operation": operation, "code": code})


def hold_given_up(code: str) -> None:
    _holds_given_up.add(1, {"code": code})


def schedule_transition(kind: str) -> None:
    _schedule_transitions.add(1, {"kind": kind})


def schedule_failed(kind: str, code: str, *, for_good: bool) -> None:
    _schedule_failures.add(1, {"kind": kind, "code": code})
    if for_good:
        _schedules_failed_for_good.add(1, {"kind": kind, "code": code})


def watch_delivery(outcome: str) -> None:
    """One POST to a watch's callback: "delivered", "failed" or "gone"."""
    _watch_deliveries.add(1, {"outcome": outcome})


def watch_disabled() -> None:
    _watches_disabled.add(1)


def timed_tick(timer: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """Records each run of a timer function in presence.timers.duration (timer, outcome ok or error)."""

    @functools.wraps(timer)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        started, outcome = time.perf_counter(), "error"
        try:
            await timer(*args, **kwargs)
            outcome = "ok"
        finally:
            elapsed = time.perf_counter() - started
            _tick_duration.record(elapsed, {"timer": timer.__name__, "outcome": outcome})

    return run


def graph_action(path: str) -> str:
    """The Graph action a request path names, without its ids: /users/{id}/presence/setPresence is
    setPresence, /users/{id}/presence getPresence, /users/{upn} getUser."""
    parts = [part for part in path.split("/") if part]
    last = parts[-1] if parts else ""
    if last in _GRAPH_ACTIONS:
        return last
    if last == "presence":
        return "getPresence"
    if last == "$batch":
        return "batch"
    if "transitiveMembers" in parts:
        return "groupMembers"
    if len(parts) >= 2 and parts[-2] == "users":
        return "getUser"
    return "other"


class MeteredTransport(httpx.AsyncBaseTransport):
    """The transport under the Graph SDK's middleware: it sees every request that goes out, each of the
    SDK's retries included, and counts it by action and Graph's status ("unreachable": no answer)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        action = graph_action(request.url.path)
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.HTTPError:
            graph_call(action, "unreachable")
            raise
        graph_call(action, str(response.status_code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# ---- where the numbers go -----------------------------------------------------------------------------


def start_exporting(console: bool, environ: Mapping[str, str] = os.environ) -> str:
    """Set the process's meter provider once, at start-up; returns where metrics go.

    - PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true: the Python worker configured Azure Monitor's
      distro itself (logs and traces too) before importing the app: "worker", nothing to do.
    - APPLICATIONINSIGHTS_CONNECTION_STRING set: the distro, metrics only (the host already sends the
      app's logs and its requests; APPLICATIONINSIGHTS_AUTHENTICATION_STRING gives it the identity).
    - METRICS_CONSOLE=true: printed every 30 s (the local stack), "console".
    - else "off": the instruments stay no-ops."""
    if environ.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").strip().lower() == "true":
        return "worker"
    if environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        from azure.monitor.opentelemetry import configure_azure_monitor  # imported only when deployed

        # The distro turns traces and logs off only through these variables (its disable_* are not
        # arguments); an app setting that names an exporter wins.
        for variable in ("OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER"):
            os.environ.setdefault(variable, "none")
        configure_azure_monitor(
            enable_live_metrics=False,
            enable_performance_counters=False,
            instrumentation_options={name: {"enabled": False} for name in DISTRO_INSTRUMENTATIONS},
        )
        return "azure-monitor"
    if console:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(
            ConsoleMetricExporter(), export_interval_millis=CONSOLE_EXPORT_SECONDS * 1000
        )
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        return "console"
    return "off"
