"""Fault runs (issue 7): hundreds of schedules while Graph answers 30% of all calls 429 or 503. Every
occurrence is started once, its presence held once and its message restored once; nothing is lost, and
nothing is written twice. Azurite and the Graph emulator (seeded random faults), both clocks moved
minute by minute; the assertions are on the emulator's journal and state."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from localdev.graph import EmulatorControl
from shared.api.models import PresencePair, ScheduleInput
from shared.app import build_services
from shared.platform.clock import Clock
from tests.integration.conftest import settings_for

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
USERS = 200


def wall(instant: datetime) -> str:
    return instant.replace(tzinfo=None).isoformat(timespec="seconds")


@pytest.mark.slow
async def test_30_percent_throttling_over_hundreds_of_schedules_loses_nothing_and_repeats_nothing(
    azurite, emulator_url
):
    async with EmulatorControl(emulator_url) as graph:
        await graph.reset()
        await graph.set_clock(T0, frozen=True)
        users = [
            u["id"]
            for u in await graph.seed_users(
                [{"userPrincipalName": f"fr{i}@contoso.test"} for i in range(USERS)]
            )
        ]
        notes = {user: f"Own note {i}" for i, user in enumerate(users) if i % 2 == 0}
        for user, note in notes.items():
            await graph.set_status_message_as_user(user, note)
        clock = Clock()
        clock.set_now(T0, frozen=True)
        services = build_services(settings_for(azurite, emulator_url), clock)
        try:
            for i, user in enumerate(users):
                fields = ScheduleInput(
                    user=user,
                    start=wall(T0 + timedelta(minutes=10)),
                    end=wall(T0 + timedelta(minutes=40)),
                    time_zone="UTC",
                    status_message=f"Workshop {i}",
                    presence=PresencePair(availability="Busy", activity="InACall"),
                )
                await services.schedules.create("fault-run", fields, None)
            await graph.random_faults(0.3, seed=7, statuses=(429, 503), retry_after=1)
            minute = 0
            while minute < 120:
                minute += 1
                now = T0 + timedelta(minutes=minute)
                clock.set_now(now, frozen=True)
                await graph.set_clock(now, frozen=True)
                await services.engine.tick()
                await services.holds.renew_due()
            await graph.clear_faults()

            journal = [e for e in await graph.journal(method="POST") if e.path.startswith("/v1.0/users/")]
            done = Counter(
                (e.path.split("/")[3], e.path.rsplit("/", 1)[-1], _body_key(e.body))
                for e in journal
                if e.status < 300
            )
            faulted = sum(1 for e in journal if e.status in {429, 503})
            assert faulted > USERS  # the faults were there, and many
            for i, user in enumerate(users):
                assert done[(user, "setStatusMessage", f"Workshop {i}")] == 1, user
                assert done[(user, "setPresence", "Busy/InACall")] == 1, user
                if user in notes:
                    assert done[(user, "setStatusMessage", notes[user])] == 1, user
                writes = {k: n for k, n in done.items() if k[0] == user}
                assert all(n == 1 for n in writes.values()), writes
                state = await graph.user_state(user)
                shown = (state["statusMessage"] or {}).get("content") or None
                assert shown == notes.get(user), user
                assert state["sessions"] == [] or all(s.get("expired") for s in state["sessions"]), user
            schedules, _ = await services.schedules.list(None, None, 200, None)
            assert {s.status for s in schedules} == {"completed"}
        finally:
            await services.tables.close()


def _body_key(body: dict) -> str:
    if "statusMessage" in body:
        return body["statusMessage"]["message"]["content"]
    if "availability" in body:
        return f"{body['availability']}/{body['activity']}"
    return ""
