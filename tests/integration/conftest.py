"""Integration fixtures: a real Azurite (one per session) and the Graph emulator served in-process, with
the service's parts built exactly as in Azure but pointed at them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestServer

from localdev.azurite import Azurite
from localdev.graph import EmulatorControl, create_app
from shared.app import Services, build_services
from shared.platform.clock import Clock
from shared.platform.config import Settings

_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as storage:
        storage.start()
        yield storage


@pytest.fixture(scope="session")
async def emulator_url() -> AsyncIterator[str]:
    server = TestServer(create_app(users="demo"), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def graph(emulator_url: str) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(emulator_url) as control:
        await control.reset()
        yield control


# Graph's undocumented behaviours, read the other way from the emulator's defaults (localdev/graph/README.md,
# "Readings"). A module with `pytestmark = pytest.mark.usefixtures("both_readings")` runs against both.
# Every switch is flipped, `batch_ids_case_insensitive` too (the product's batch ids are numbers, with no
# case: it holds either way, and this shows it).
OTHER_READINGS = {
    "batch_order": "given",
    "batch_ids_case_insensitive": False,
    "sequence_on_computed_change": False,
    "unknown_presence_ids": "error",
    "out_of_office_over_held": "shown",
}


@pytest.fixture(params=["default", "other"], ids=["default-readings", "other-readings"])
async def both_readings(request: pytest.FixtureRequest, graph: EmulatorControl) -> str:
    """Which readings the emulator runs with for this test: its defaults, or every switch the other way."""
    if request.param == "other":
        await graph.set_readings(**OTHER_READINGS)
    return str(request.param)


def settings_for(azurite: Azurite, emulator_url: str, **overrides: str) -> Settings:
    env = {
        "GRAPH_BASE_URL": f"{emulator_url}/v1.0",
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "TABLE_PREFIX": f"it{next(_prefixes)}",  # every test its own tables
        **overrides,
    }
    return Settings.from_env(env)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def services(
    azurite: Azurite, emulator_url: str, graph: EmulatorControl, clock: Clock
) -> AsyncIterator[Services]:
    built = build_services(settings_for(azurite, emulator_url), clock)
    yield built
    await built.tables.close()


T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def at_t0(services: Services, graph: EmulatorControl) -> Services:
    """The services with their clock and the emulator's stopped at T0."""
    services.clock.set_now(T0, frozen=True)
    await graph.set_clock(T0, frozen=True)
    return services


async def travel(services: Services, graph: EmulatorControl, delta: timedelta) -> None:
    """Both clocks `delta` on, still stopped."""
    services.clock.advance(delta)
    await graph.set_clock(services.clock.now(), frozen=True)
