"""A local Microsoft Graph v1.0 presence emulator (aiohttp, loopback only), as strict as Graph.

`create_app()` builds it, `python -m localdev graph` serves it, `EmulatorControl` drives its control
plane. Module map: rules (Graph's validation rules), state (the tenant, pure), resources (JSON shapes),
handlers (the /v1.0 routes), graph_api and batch (the request pipeline), control_api (/_emulator),
journal, faults, clock, auth, errors, paging ($top and skip tokens), demo (the demo users', group's and
service principals' fixed ids), apps (Microsoft Graph's service principal and app role ids).
"""

from localdev.graph.app import create_app
from localdev.graph.apps import GRAPH_APP_ID, GRAPH_APP_ROLE_IDS
from localdev.graph.control import EmulatorControl, EmulatorControlError, JournalEntry
from localdev.graph.demo import (
    ALICE_ID,
    BOB_ID,
    CAROL_ID,
    DAVE_ID,
    DEMO_USERS,
    FUNC_MI_ID,
    FUNC_MI_NAME,
    GRAPH_SP_ID,
    SUPPORT_GROUP_ID,
    SUPPORT_GROUP_NAME,
)
from shared.platform.identity import LOOPBACK_APP_ID

__all__ = [
    "ALICE_ID",
    "BOB_ID",
    "CAROL_ID",
    "DAVE_ID",
    "DEMO_USERS",
    "FUNC_MI_ID",
    "FUNC_MI_NAME",
    "GRAPH_APP_ID",
    "GRAPH_APP_ROLE_IDS",
    "GRAPH_SP_ID",
    "LOOPBACK_APP_ID",
    "SUPPORT_GROUP_ID",
    "SUPPORT_GROUP_NAME",
    "EmulatorControl",
    "EmulatorControlError",
    "JournalEntry",
    "create_app",
]
