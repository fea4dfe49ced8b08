"""The Azure Functions app: builds it and registers the blueprints, nothing else."""

import azure.functions as func

from functions import audit_api, meta_api, presence_api, schedules_api, timers, watches_api
from shared.platform.config import settings
from shared.platform.metrics import start_exporting
from shared.platform.sdk_logging import set_sdk_log_levels

set_sdk_log_levels(
    settings().sdk_log_level
)  # a wrong or missing setting stops the app here, with one log line
start_exporting(settings().metrics_console)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(presence_api.bp)
app.register_functions(schedules_api.bp)
app.register_functions(audit_api.bp)
app.register_functions(watches_api.bp)
app.register_functions(meta_api.bp)
app.register_functions(timers.bp)
