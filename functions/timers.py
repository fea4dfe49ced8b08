"""Timers: the promises kept over time. Each tick is idempotent; overlapping or crashed ticks are safe."""

from __future__ import annotations

import logging
import time

import azure.functions as func

from shared.app import services
from shared.platform import metrics
from shared.platform.budget import Priority, spending
from shared.platform.config import settings
from shared.retention import purge_history as purge_old_rows

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.timer_trigger(schedule=settings().renew_tick, arg_name="timer", run_on_startup=False)
@metrics.timed_tick
async def renew_sessions(timer: func.TimerRequest) -> None:
    """Keep every held session and preferred presence alive until its end, then let it go."""
    acted = await services().holds.renew_due()
    log.info("renew_sessions: %d holds acted on", acted)


@bp.timer_trigger(schedule=settings().schedule_tick, arg_name="timer", run_on_startup=False)
@metrics.timed_tick
async def apply_schedules(timer: func.TimerRequest) -> None:
    """Start, end or skip every schedule occurrence that is due (catching up after downtime)."""
    steps = await services().engine.tick()
    log.info("apply_schedules: %d steps taken", steps)


@bp.timer_trigger(schedule=settings().watch_tick, arg_name="timer", run_on_startup=False)
@metrics.timed_tick
async def poll_watches(timer: func.TimerRequest) -> None:
    """Read every watched user at once, put each change in its watches' outboxes, deliver what is due."""
    # Watch polls come after renewals and schedule steps in the Graph budget, and wait for it in their time.
    with spending(Priority.READ, time.monotonic() + settings().tick_time_limit_seconds):
        report = await services().watcher.tick()
    log.info(
        "poll_watches: %d watches, %d users, %d changes, %d delivered, %d watches failing",
        report.watches,
        report.users,
        report.changes,
        report.delivered,
        report.failed,
    )


@bp.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
@metrics.timed_tick
async def purge_history(timer: func.TimerRequest) -> None:
    """Daily at 03:30 UTC: drop audit rows, idempotency keys and finished schedules past retention."""
    purged = await purge_old_rows(
        services().tables, services().clock.now(), services().settings.retention_days
    )
    log.info("purge_history: %s", purged)
