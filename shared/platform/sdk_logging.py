"""The SDKs' own loggers, quieted at start-up. The Python worker's root logger is INFO, so without this every
storage call, token fetch and Graph request logs several lines into Application Insights (host.json's
`Azure.Core` level applies to the host's .NET loggers, not to these)."""

from __future__ import annotations

import logging

# Parents cover their children: `azure` holds azure.core.pipeline.policies.http_logging_policy, azure.identity
# and azure.data.tables; `httpx` logs each Graph request (msgraph-sdk's transport) with its URL.
SDK_LOGGERS = ("azure", "msal", "httpx", "httpcore", "urllib3", "kiota_http", "kiota_abstractions", "msgraph")


def set_sdk_log_levels(level: str) -> None:
    """Set every SDK logger to `level` (SDK_LOG_LEVEL: WARNING by default; INFO or DEBUG to see the calls)."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)
