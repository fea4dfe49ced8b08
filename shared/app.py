"""The process's long-lived parts, built once on first use: settings, clients, gateway, repositories.
Handlers and timers reach everything through `services()`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.kiota_client_factory import DEFAULT_CONNECTION_TIMEOUT, DEFAULT_REQUEST_TIMEOUT
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.graph_request_adapter import options as GRAPH_ADAPTER_OPTIONS
from msgraph_core import GraphClientFactory

from shared.api.health import HealthProbe
from shared.audit.service import AuditTrail
from shared.audit.store import AuditLog
from shared.directory.service import UserDirectory
from shared.directory.store import UserCache
from shared.holds.service import TIMER_CALLER, HoldService
from shared.holds.store import HoldStore
from shared.platform.budget import GraphBudget
from shared.platform.clock import Clock, system_clock
from shared.platform.config import Settings, settings
from shared.platform.errors import SESSION_ID_UNKNOWN
from shared.platform.graph import PresenceGateway
from shared.platform.identity import GRAPH_SCOPE, make_credential, token_app_id
from shared.platform.metrics import MeteredTransport
from shared.platform.quota import Quotas
from shared.platform.tables import TableStore
from shared.platform.timeline import Timeline
from shared.presence.service import PresenceReader
from shared.schedules.recurrence import Limits
from shared.schedules.service import ScheduleService
from shared.schedules.store import IdempotencyStore, ScheduleStore
from shared.schedules.timer import ScheduleEngine
from shared.watches.service import WatchPoller, WatchService
from shared.watches.store import WatchStore

log = logging.getLogger(__name__)

GRAPH_TIMEOUT = httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=DEFAULT_CONNECTION_TIMEOUT)  # the SDK's own


@dataclass
class Services:
    settings: Settings
    clock: Clock
    tables: TableStore
    gateway: PresenceGateway
    directory: UserDirectory
    presence: PresenceReader
    holds: HoldService
    schedules: ScheduleService
    engine: ScheduleEngine
    audit: AuditTrail
    watches: WatchService
    watcher: WatchPoller

    health: HealthProbe


def build_services(
    config: Settings, clock: Clock = system_clock, *, budget_clock: Clock | None = None
) -> Services:
    """The process's parts. The Graph budget keeps real time (its own unmoved clock unless a test gives
    one): it counts requests as Graph does, whatever time the service's clock was moved to."""
    credential = make_credential(config)
    # The SDK's own client and middleware, over a transport that counts each request sent
    # (shared/platform/metrics.py).
    wire = MeteredTransport(httpx.AsyncHTTPTransport(http2=True))
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(timeout=GRAPH_TIMEOUT, transport=wire),
        options=GRAPH_ADAPTER_OPTIONS,
    )
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE])
    client = GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))
    # Graph's host by default; the local emulator's URL on loopback (settings allow http only there).
    client.request_adapter.base_url = config.graph_base_url
    tables = TableStore(config)
    budget = GraphBudget(
        tables,
        budget_clock or Clock(),
        config.graph_budget_per_30s,
        wait_seconds=config.graph_budget_wait_seconds,
    )
    gateway = PresenceGateway(client, config.graph_concurrency, budget)
    directory = UserDirectory(
        gateway,
        UserCache(tables),
        clock,
        timedelta(hours=config.user_cache_hours),
        timedelta(minutes=config.user_cache_miss_minutes),
    )
    timeline = Timeline(tables)
    holds = HoldStore(tables, timeline)
    audit = AuditLog(tables)
    holds = HoldService(
        holds,
        audit,
        gateway,
        directory,
        clock,
        session_id_source(config, credential),
        max_hold_days=config.max_hold_days,
        max_attempts=config.max_attempts,
        concurrency=config.graph_concurrency,
        tick_time_limit=config.tick_time_limit_seconds,
    )
    presence = PresenceReader(directory, gateway, holds)
    limits = Limits(
        max_hold_days=config.max_hold_days,
        min_gap=timedelta(minutes=config.schedule_min_gap_minutes),
        max_per_day=config.schedule_max_per_day,
    )
    quotas = Quotas(tables, clock)
    schedules = ScheduleService(
        ScheduleStore(tables),
        IdempotencyStore(tables),
        timeline,
        directory,
        audit,
        clock,
        limits,
        quotas=quotas,
        max_per_user=config.max_schedules_per_user,
    )
    engine = ScheduleEngine(
        schedules.store,
        timeline,
        holds,
        gateway,
        audit,
        clock,
        max_attempts=config.max_attempts,
        concurrency=config.graph_concurrency,
        tick_time_limit=config.tick_time_limit_seconds,
    )
    trail = AuditTrail(audit, directory, clock, config.retention_days)
    watch_store = WatchStore(tables)
    # Plain http callbacks only where the whole stack is local (the Graph emulator on loopback).
    watches = WatchService(
        watch_store, directory, gateway, audit, clock, quotas, allow_loopback_http=config.graph_is_loopback
    )
    watcher = WatchPoller(
        watch_store,
        gateway,
        audit,
        clock,
        renewer=TIMER_CALLER,
        group_refresh=timedelta(minutes=config.watch_group_refresh_minutes),
        disable_after=timedelta(hours=config.watch_disable_after_hours),
        allow_loopback_http=config.graph_is_loopback,
    )
    # Whether storage and Graph answer, at most once per HEALTH_CHECK_SECONDS whatever the traffic.
    health = HealthProbe(
        {"storage": tables.ping, "graph": gateway.ping}, clock, timedelta(seconds=config.health_check_seconds)
    )
    return Services(
        config,
        clock,
        tables,
        gateway,
        directory,
        presence,
        holds,
        schedules,
        engine,
        trail,
        watches,
        watcher,
        health,
    )


def session_id_source(config: Settings, credential: AsyncTokenCredential) -> Callable[[], Awaitable[str]]:
    """setPresence's sessionId: PRESENCE_SESSION_ID, else the app id in our own Graph token (Graph
    requires the caller's application id)."""
    found: list[str] = [config.presence_session_id] if config.presence_session_id else []

    async def session_id() -> str:
        if not found:
            token = await credential.get_token(GRAPH_SCOPE)
            app_id = token_app_id(token.token)
            if not app_id:
                raise SESSION_ID_UNKNOWN("The Graph token has no appid/azp claim: set PRESENCE_SESSION_ID.")
            found.append(app_id.lower())
        return found[0]

    return session_id


_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        _services = build_services(settings())
    return _services
