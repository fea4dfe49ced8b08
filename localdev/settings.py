"""What the Functions host reads from an app directory before it loads the app: `local.settings.json`
Values (into the environment), host.json's HTTP route prefix and log levels."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

DEFAULT_ROUTE_PREFIX = "api"


class AppDirError(ValueError):
    """An unreadable host.json or local.settings.json."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise AppDirError(f"{path}: {exc}") from exc


def load_local_settings(app_dir: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy `Values` of app_dir/local.settings.json into the environment, never overriding a variable that
    is already set (as Core Tools do). Returns the names it set; no file, nothing set."""
    env = os.environ if environ is None else environ
    path = Path(app_dir) / "local.settings.json"
    if not path.is_file():
        return []
    data = _read_json(path)
    values = data.get("Values", {}) if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise AppDirError(f"{path}: 'Values' must be an object of app settings")
    applied: list[str] = []
    for name, value in values.items():
        if name in env:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif value is None:
            text = ""
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise AppDirError(f"{path}: app setting {name!r} must be a string")
        env[name] = text
        applied.append(name)
    return applied


def read_route_prefix(app_dir: Path) -> str:
    """host.json `extensions.http.routePrefix` (default `api`; an empty string means no prefix)."""
    path = Path(app_dir) / "host.json"
    if not path.is_file():
        return DEFAULT_ROUTE_PREFIX
    data = _read_json(path)
    http = data.get("extensions", {}).get("http", {}) if isinstance(data, dict) else {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX) if isinstance(http, dict) else DEFAULT_ROUTE_PREFIX
    if not isinstance(prefix, str):
        raise AppDirError(f"{path}: extensions.http.routePrefix must be a string")
    return prefix.strip("/")


_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}


def read_log_levels(app_dir: Path) -> dict[str, int]:
    """host.json `logging.logLevel` as Python logger levels: `default` is the root logger, a category such as
    `Azure.Core` the logger `azure.core`; the host's own categories (`Host.*`, `Function*`) do not apply."""
    path = Path(app_dir) / "host.json"
    if not path.is_file():
        return {}
    data = _read_json(path)
    levels = data.get("logging", {}).get("logLevel", {}) if isinstance(data, dict) else {}
    out: dict[str, int] = {}
    for category, level in levels.items() if isinstance(levels, dict) else []:
        python_level = _LEVELS.get(str(level).lower())
        if python_level is None or category.startswith(("Host", "Function")):
            continue
        out["" if category == "default" else category.lower()] = python_level
    return out
