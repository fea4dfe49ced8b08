"""A local Microsoft Graph v1.0 presence emulator (aiohttp, loopback only), as strict as Graph.

`create_app()` builds it, `python -m localdev graph` serves it, `EmulatorControl` drives its control
plane. Module map: rules (Graph's validation rules), state (the tenant, pure), resources (JSON shapes),
handlers (the /v1.0 routes), graph_api and batch (the request pipeline), control_api (/_emulator),
journal, faults, clock, auth, errors, demo (the demo users' fixed ids).
"""

from localdev.graph.app import create_app
from localdev.graph.control import EmulatorControl, EmulatorControlError, JournalEntry
from localdev.graph.demo import ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID, DEMO_USERS
from shared.identity import LOOPBACK_APP_ID

__all__ = [
    "ALICE_ID",
    "BOB_ID",
    "CAROL_ID",
    "DAVE_ID",
    "DEMO_USERS",
    "LOOPBACK_APP_ID",
    "EmulatorControl",
    "EmulatorControlError",
    "JournalEntry",
    "create_app",
]
