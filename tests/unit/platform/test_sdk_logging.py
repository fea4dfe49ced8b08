"""The SDKs' loggers are quiet at WARNING (the default) and speak again when SDK_LOG_LEVEL says so: checked
on the records the real azure-core logging policy and httpx (msgraph-sdk's transport) emit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.policies import HttpLoggingPolicy
from azure.core.rest import HttpRequest

from shared.platform.config import Settings, SettingsError
from shared.platform.sdk_logging import SDK_LOGGERS, set_sdk_log_levels

ROOT = Path(__file__).resolve().parents[3]
STORAGE = {"TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}


@pytest.fixture(autouse=True)
def restore_levels() -> Iterator[None]:
    before = {name: logging.getLogger(name).level for name in SDK_LOGGERS}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def sdk_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What a storage call's logging policy and a Graph request through httpx log, as the worker's INFO root
    would receive it."""
    caplog.clear()
    with caplog.at_level(logging.INFO):  # the worker's root logger
        request = PipelineRequest(
            HttpRequest("GET", "https://acct.table.core.windows.net/Tables"), PipelineContext(None)
        )
        HttpLoggingPolicy().on_request(request)
        transport = httpx.MockTransport(lambda _request: httpx.Response(200))
        with httpx.Client(transport=transport) as client:
            client.get("https://graph.microsoft.com/v1.0/users/a/presence")
    return [r for r in caplog.records if r.name.split(".")[0] in SDK_LOGGERS]


def test_the_sdks_log_every_call_at_info_without_it(caplog):
    set_sdk_log_levels("INFO")
    names = {r.name for r in sdk_records(caplog)}
    assert names == {"azure.core.pipeline.policies.http_logging_policy", "httpx"}


def test_the_default_level_keeps_them_out(caplog):
    set_sdk_log_levels(Settings.from_env(STORAGE).sdk_log_level)
    assert sdk_records(caplog) == []
    assert not logging.getLogger("azure.identity").isEnabledFor(logging.INFO)
    assert not logging.getLogger("msal").isEnabledFor(logging.INFO)
    assert logging.getLogger("azure.data.tables").isEnabledFor(logging.WARNING)  # warnings still go through


def test_sdk_log_level_turns_them_back_up(caplog):
    set_sdk_log_levels(Settings.from_env({**STORAGE, "SDK_LOG_LEVEL": "info"}).sdk_log_level)
    assert len(sdk_records(caplog)) == 2


def test_sdk_log_level_is_validated():
    assert Settings.from_env(STORAGE).sdk_log_level == "WARNING"
    assert Settings.from_env({**STORAGE, "SDK_LOG_LEVEL": " debug "}).sdk_log_level == "DEBUG"
    with pytest.raises(SettingsError, match="SDK_LOG_LEVEL"):
        Settings.from_env({**STORAGE, "SDK_LOG_LEVEL": "chatty"})


def test_importing_the_app_sets_them(tmp_path):
    # A fresh process, as the worker loads function_app; the setting turns them back up.
    code = "import logging, function_app; print(*(logging.getLogger(n).level for n in ('azure', 'httpx')))"
    env = {**os.environ, **STORAGE, "PYTHONPATH": str(ROOT)}
    env.pop("SDK_LOG_LEVEL", None)
    quiet = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    loud = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "SDK_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
    )
    assert (quiet.stdout.split(), loud.stdout.split()) == (["30", "30"], ["10", "10"]), (
        quiet.stderr + loud.stderr
    )
