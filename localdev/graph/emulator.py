"""The emulator's whole state in one object: tenant, clock, journal, faults, latency, granted roles and the
key its skip tokens are signed with."""

from __future__ import annotations

from aiohttp import web

from localdev.graph.apps import microsoft_graph_service_principal
from localdev.graph.auth import DEFAULT_ROLES
from localdev.graph.clock import EmulatorClock
from localdev.graph.demo import DEMO_GROUPS, DEMO_USERS, FUNC_MI_ID, FUNC_MI_NAME, GRAPH_SP_ID
from localdev.graph.faults import Faults, Latency
from localdev.graph.journal import Journal
from localdev.graph.paging import SkipTokens
from localdev.graph.readings import Readings
from localdev.graph.rules import is_guid
from localdev.graph.state import Group, ServicePrincipal, Tenant, User
from localdev.graph.throttle import PresenceBudget

USER_SEEDS = ("demo", "none")


class Emulator:
    def __init__(self, *, app_id: str, users: str | None, presence_budget: int | None = None) -> None:
        if not is_guid(app_id):
            raise ValueError(f"app_id must be a GUID, not {app_id!r}")
        if users is not None and users not in USER_SEEDS:
            raise ValueError(f"users must be one of {USER_SEEDS} or None, not {users!r}")
        # Graph: setPresence's sessionId must be the caller's application id; locally that is this id.
        self.app_id = app_id.lower()
        self.users_seed = users if users != "none" else None
        self.clock = EmulatorClock()
        self.journal = Journal()
        self.faults = Faults()
        self.latency = Latency()
        self.readings = Readings()
        # Graph's presence throttle; off unless asked for (tests freeze the clock, so a window never
        # slides there), on in the CLI and the benches.
        self.presence_budget = PresenceBudget(presence_budget)
        self.roles: frozenset[str] = DEFAULT_ROLES
        self.skip_tokens = SkipTokens()
        self.tenant = self._seeded_tenant()

    def reset(self) -> None:
        """Back to the start: seeded users, groups and service principals (no app role granted), empty
        journal, no faults or latency, default readings, the presence budget as started (empty window),
        real time, default roles."""
        self.clock.reset()
        self.readings = Readings()
        self.journal.clear()
        self.faults.clear()
        self.latency.off()
        self.presence_budget.reset()
        self.roles = DEFAULT_ROLES
        self.tenant = self._seeded_tenant()

    def _seeded_tenant(self) -> Tenant:
        tenant = Tenant()
        tenant.add_service_principal(microsoft_graph_service_principal(GRAPH_SP_ID))
        if self.users_seed == "demo":
            for demo in DEMO_USERS:
                upn = demo.user_principal_name
                addresses = (f"SMTP:{upn}", *(f"smtp:{alias}" for alias in demo.aliases))
                tenant.add_user(User(demo.id, upn, demo.display_name, upn, addresses))
            tenant.add_groups([Group(g.id, g.display_name, g.members) for g in DEMO_GROUPS])
            # The Function App's system-assigned identity; the local stack acts as it (same appId).
            site = f"/subscriptions/{_DEMO_SUBSCRIPTION}/resourcegroups/rg-presence-demo"
            tenant.add_service_principal(
                ServicePrincipal(
                    id=FUNC_MI_ID,
                    app_id=self.app_id,
                    display_name=FUNC_MI_NAME,
                    service_principal_type="ManagedIdentity",
                    alternative_names=(
                        "isExplicit=False",
                        f"{site}/providers/Microsoft.Web/sites/{FUNC_MI_NAME}",
                    ),
                )
            )
        return tenant


_DEMO_SUBSCRIPTION = "00000000-0000-4000-8000-00000000c001"


# Where an aiohttp application keeps its emulator.
EMULATOR = web.AppKey("emulator", Emulator)
