"""A fault run for watches: users' presence changing at random for an hour of ticks while Graph answers
30% of calls 429/503, the receiver fails a quarter of its POSTs, and ticks die at random storage steps.
Afterwards, with the faults gone, each watch's accepted notifications for each user form one unbroken
chain (each `previous` is the `current` before it: nothing told twice, nothing skipped) that ends at the
user's presence as Graph shows it (nothing lost). Seeded, so a failure can be replayed."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localdev.graph import EmulatorControl
from shared.api.models import WatchInput
from shared.app import build_services
from shared.platform.clock import Clock
from shared.watches.store import WatchStore
from tests.integration.conftest import settings_for
from tests.receiver import Receiver

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
USERS = 24
PAIRS = [("Busy", "InAMeeting"), ("Away", "Away"), ("Available", "Available"), ("DoNotDisturb", "Presenting")]
# Storage steps a tick may die at. Not `settle` (after a POST): dying there resends that POST by design.
FRAGILE = ("flag_pending", "record", "set_last_read", "replace")


class Crashes:
    """Makes WatchStore methods raise at random, as a worker killed mid-tick would stop."""

    def __init__(self, rng: random.Random, monkeypatch: pytest.MonkeyPatch, rate: float) -> None:
        self.rng, self.rate, self.armed, self.count = rng, rate, True, 0
        for name in FRAGILE:
            monkeypatch.setattr(WatchStore, name, self._fragile(getattr(WatchStore, name)))

    def _fragile(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def maybe_dies(store: WatchStore, *args: Any, **kwargs: Any) -> Any:
            if self.armed and self.rng.random() < self.rate:
                self.count += 1
                raise RuntimeError("worker killed")
            return await method(store, *args, **kwargs)

        return maybe_dies


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 8])
async def test_faults_everywhere_lose_no_change_and_tell_none_twice(azurite, emulator_url, monkeypatch, seed):
    rng = random.Random(seed)
    async with EmulatorControl(emulator_url) as graph, Receiver() as receiver:
        await graph.reset()
        await graph.set_clock(T0, frozen=True)
        seeded = await graph.seed_users([{"userPrincipalName": f"wf{i}@contoso.test"} for i in range(USERS)])
        users = [u["id"] for u in seeded]
        clock = Clock()
        clock.set_now(T0, frozen=True)
        services = build_services(settings_for(azurite, emulator_url), clock)
        try:
            watches = []
            for members in (users[: USERS * 2 // 3], users[USERS // 3 :]):  # overlapping
                body = WatchInput(users=members, callback_url=receiver.url)
                watches.append(
                    await services.watches.create("fault-run", body, services.watches.targets(body))
                )
            await services.watcher.tick()  # baselines, before any fault

            crashes = Crashes(rng, monkeypatch, rate=0.08)
            receiver.decide = lambda: 500 if rng.random() < 0.25 else 200
            await graph.random_faults(0.3, seed=seed, statuses=(429, 503), retry_after=1)
            started = time.perf_counter()
            for _ in range(60):
                for user in rng.sample(users, 4):
                    availability, activity = rng.choice(PAIRS)
                    await graph.add_session(user, "teams-desktop", availability, activity)
                with contextlib.suppress(RuntimeError):  # the worker died; the next tick finds what it left
                    await services.watcher.tick()
                clock.advance(timedelta(minutes=1))
                await graph.set_clock(clock.now(), frozen=True)

            print(f"60 faulty ticks in {time.perf_counter() - started:.1f} s")
            crashes.armed = False
            await graph.clear_faults()
            receiver.decide = None
            for _ in range(5):  # past any back-off (at most an hour) and any claim lease
                clock.advance(timedelta(hours=1))
                await graph.set_clock(clock.now(), frozen=True)
                await services.watcher.tick()

            assert crashes.count > 10  # the run did meet crashes
            accepted = [r.delivery_id for r in receiver.received if 200 <= r.answered < 300]
            assert len(accepted) == len(set(accepted))  # no notification accepted twice
            assert any(r.answered == 500 for r in receiver.received)
            shown = await services.gateway.presences(users)
            for watch in watches:
                record, _ = await services.watches.get(watch.id)
                assert record.status == "active"
                assert not record.has_pending
                members = {m.user_id for m in await services.watches.store.members(watch.id)}
                for user in members:
                    told = [n for n in receiver.delivered if n["watchId"] == watch.id and n["userId"] == user]
                    now = (shown[user].availability, shown[user].activity)
                    chain = [("Offline", "Offline")] + [
                        (n["current"]["availability"], n["current"]["activity"]) for n in told
                    ]
                    previous = [(n["previous"]["availability"], n["previous"]["activity"]) for n in told]
                    assert previous == chain[:-1], f"{user}: told twice or skipped: {told}"
                    assert chain[-1] == now, f"{user}: the last change was lost"
        finally:
            await services.tables.close()
