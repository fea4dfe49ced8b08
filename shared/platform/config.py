"""One Settings object, read from the environment (app settings) once and validated. A wrong setting fails
at start-up with one line naming it; a value is never echoed back when it might be a secret."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_GRAPH = "https://graph.microsoft.com/v1.0"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_NCRONTAB = re.compile(r"^\S+( \S+){5}$")  # six fields: second minute hour day month day-of-week
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_HOSTNAME = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?")


class SettingsError(Exception):
    """Raised at start-up: the message names the setting and says what is wrong, never its value."""


def is_loopback_url(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOOPBACK_HOSTS


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    graph_base_url: str = Field(DEFAULT_GRAPH, alias="GRAPH_BASE_URL")
    azure_client_id: str | None = Field(None, alias="AZURE_CLIENT_ID")
    presence_session_id: str | None = Field(None, alias="PRESENCE_SESSION_ID")
    tables_connection_string: str | None = Field(None, alias="TABLES_CONNECTION_STRING", repr=False)
    tables_endpoint: str | None = Field(None, alias="TABLES_ENDPOINT")
    table_prefix: str = Field("presence", alias="TABLE_PREFIX")
    # Set by App Service when its Authentication is on: only then are X-MS-CLIENT-PRINCIPAL headers
    # App Service's own (it strips the ones a client sends). Declared before CALLER_AUTH, which needs it.
    website_auth_enabled: bool = Field(False, alias="WEBSITE_AUTH_ENABLED")
    caller_auth: Literal["function-key", "entra"] = Field("function-key", alias="CALLER_AUTH")
    # entra mode, beyond what App Service Authentication checks: the tenant and audiences accepted.
    entra_tenant_id: str | None = Field(None, alias="ENTRA_TENANT_ID")
    entra_audiences: tuple[str, ...] = Field((), alias="ENTRA_AUDIENCES")
    schedule_tick: str = Field("0 */1 * * * *", alias="SCHEDULE_TICK")
    renew_tick: str = Field("0 */1 * * * *", alias="RENEW_TICK")
    # Presence watches: how often watched users are read (a change shows within one tick), how often a
    # group's members are read again, and how long a failing callback is retried before the watch is off.
    watch_tick: str = Field("30 */1 * * * *", alias="WATCH_TICK")
    watch_group_refresh_minutes: int = Field(60, ge=5, le=24 * 60, alias="WATCH_GROUP_REFRESH_MINUTES")
    watch_disable_after_hours: int = Field(24, ge=1, le=24 * 7, alias="WATCH_DISABLE_AFTER_HOURS")
    graph_concurrency: int = Field(8, ge=1, le=64, alias="GRAPH_CONCURRENCY")
    # Presence requests the app makes in any 30 s, all instances together (Graph budgets presence per app
    # and tenant; shared/platform/budget.py). At least 33: one request per 1-second slot.
    graph_budget_per_30s: int = Field(1500, ge=33, le=10_000, alias="GRAPH_BUDGET_PER_30S")
    # How long an HTTP caller waits for the budget before a 429 graphBudgetExhausted.
    graph_budget_wait_seconds: int = Field(5, ge=0, le=60, alias="GRAPH_BUDGET_WAIT_SECONDS")
    # How long a renew or schedule tick goes on reading due work (the function timeout is 10 minutes).
    tick_time_limit_seconds: int = Field(240, ge=5, le=540, alias="TICK_TIME_LIMIT_SECONDS")
    max_attempts: int = Field(5, ge=1, le=100, alias="MAX_ATTEMPTS")
    max_hold_days: int = Field(7, ge=1, le=30, alias="MAX_HOLD_DAYS")
    # A recurrence's occurrences start at least this far apart and at most this many a day, whatever its
    # RRULE parts (each start and end costs Graph writes).
    schedule_min_gap_minutes: int = Field(15, ge=1, le=24 * 60, alias="SCHEDULE_MIN_GAP_MINUTES")
    schedule_max_per_day: int = Field(24, ge=1, le=24 * 60, alias="SCHEDULE_MAX_PER_DAY")
    retention_days: int = Field(30, ge=1, le=3650, alias="RETENTION_DAYS")
    user_cache_hours: int = Field(24, ge=0, le=24 * 30, alias="USER_CACHE_HOURS")
    # The SDKs' loggers (shared/platform/sdk_logging.py): WARNING keeps a line per storage or Graph call out.
    sdk_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("WARNING", alias="SDK_LOG_LEVEL")
    # The app's metrics printed to the console (shared/platform/metrics.py) without Application Insights.
    metrics_console: bool = Field(False, alias="METRICS_CONSOLE")
    # How long "Graph knows no such UPN" is trusted (0: never cached); short, since the user may be made.
    user_cache_miss_minutes: int = Field(5, ge=0, le=24 * 60, alias="USER_CACHE_MISS_MINUTES")
    # Caps that hold under concurrency (shared/platform/quota.py): live schedules per user, whoever makes
    # them; watches per signed-in user (apps' and function keys' watches are a tenant's flows: not counted).
    max_schedules_per_user: int = Field(100, ge=1, le=10_000, alias="MAX_SCHEDULES_PER_USER")
    max_watches_per_user: int = Field(20, ge=1, le=1000, alias="MAX_WATCHES_PER_USER")
    # GET /api/health (anonymous) checks storage and Graph at most once per this many seconds.
    health_check_seconds: int = Field(30, ge=5, le=3600, alias="HEALTH_CHECK_SECONDS")
    # The app's own public address (host[:port]): App Service sets it, the local host sets its own.
    # Absolute URLs the service answers (Location, nextLink, the OpenAPI host) are built from it, never
    # from the request's Host header.
    website_hostname: str | None = Field(None, alias="WEBSITE_HOSTNAME")

    @field_validator("graph_base_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        url = urlparse(value)
        if url.scheme not in {"https", "http"} or not url.hostname:
            raise ValueError("must be an absolute URL such as https://graph.microsoft.com/v1.0")
        if url.scheme == "http" and url.hostname not in LOOPBACK_HOSTS:
            raise ValueError("plain http is allowed only for a loopback emulator")
        return value.rstrip("/")

    @field_validator("caller_auth")
    @classmethod
    def _app_service_authentication(cls, value: str, info: ValidationInfo) -> str:
        if value == "entra" and not info.data.get("website_auth_enabled"):
            raise ValueError(
                "Entra callers need App Service Authentication turned on (WEBSITE_AUTH_ENABLED=true): "
                "without it anyone could send an X-MS-CLIENT-PRINCIPAL header"
            )
        return value

    @model_validator(mode="after")
    def _entra_issuer(self) -> Settings:
        # Without them any tenant's token for any audience App Service lets through would be trusted:
        # a multi-tenant registration, or an issuer left open, would hand the service's power out.
        if self.caller_auth == "entra" and (self.entra_tenant_id is None or not self.entra_audiences):
            raise ValueError("CALLER_AUTH=entra needs ENTRA_TENANT_ID and ENTRA_AUDIENCES")
        return self

    @field_validator("entra_audiences", mode="before")
    @classmethod
    def _audiences(cls, value: object) -> object:
        # An app setting is one string: comma-separated (api://... URIs and client ids have no commas).
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("azure_client_id", "presence_session_id", "entra_tenant_id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError("must be a GUID")
        return value.lower() if value else value

    @field_validator("website_hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.fullmatch(value.strip()):
            raise ValueError("must be a host name with an optional port, such as app.azurewebsites.net")
        return value.strip().lower() if value is not None else None

    @field_validator("tables_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            url = urlparse(value)
            if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS):
                raise ValueError("must be an https URL such as https://ACCOUNT.table.core.windows.net")
        return value

    @field_validator("sdk_log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("table_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # Table names are 3-63 alphanumerics starting with a letter; the longest suffix we add is 12.
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,39}", value):
            raise ValueError("must be 1-40 letters and digits, starting with a letter")
        return value

    @field_validator("schedule_tick", "renew_tick", "watch_tick")
    @classmethod
    def _ncrontab(cls, value: str) -> str:
        if not _NCRONTAB.match(value.strip()):
            raise ValueError("must be an NCRONTAB expression with six fields, e.g. '0 */1 * * * *'")
        return value.strip()

    @model_validator(mode="after")
    def _storage(self) -> Settings:
        if not (self.tables_connection_string or self.tables_endpoint):
            raise ValueError(
                "TABLES_CONNECTION_STRING, TABLES_ENDPOINT or AzureWebJobsStorage must say where Table "
                "storage is"
            )
        return self

    @property
    def graph_is_loopback(self) -> bool:
        return is_loopback_url(self.graph_base_url)

    @property
    def public_origin(self) -> str | None:
        """`https://WEBSITE_HOSTNAME` (http on loopback), or None when the app does not know its address."""
        if self.website_hostname is None:
            return None
        origin = f"http://{self.website_hostname}"
        return origin if is_loopback_url(origin) else f"https://{self.website_hostname}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        known = {f.alias for f in cls.model_fields.values() if f.alias}
        values = {name: env[name] for name in known if env.get(name, "").strip() != ""}
        values.update(_storage_fallback(env, values))
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


def _storage_fallback(env: Mapping[str, str], values: dict[str, str]) -> dict[str, str]:
    """Without TABLES_*, use the Functions host's own storage setting, as Azure deployments have it."""
    if "TABLES_CONNECTION_STRING" in values or "TABLES_ENDPOINT" in values:
        return {}
    if env.get("AzureWebJobsStorage"):
        return {"TABLES_CONNECTION_STRING": env["AzureWebJobsStorage"]}
    if env.get("AzureWebJobsStorage__tableServiceUri"):
        return {"TABLES_ENDPOINT": env["AzureWebJobsStorage__tableServiceUri"]}
    if env.get("AzureWebJobsStorage__accountName"):
        return {
            "TABLES_ENDPOINT": f"https://{env['AzureWebJobsStorage__accountName']}.table.core.windows.net"
        }
    return {}


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule across settings: its message names them
        return f"settings: {message}"
    return f"setting {first['loc'][0]}: {message}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once; a wrong one is logged on one line and stops the start-up."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        logging.getLogger(__name__).critical("invalid configuration: %s", exc)
        raise
