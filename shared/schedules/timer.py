"""The `apply_schedules` timer: for every schedule that is due, start, end or skip its occurrence."""

# Each step claims the schedule row by ETag (with a lease entry in the due index) before touching Graph,
# applies the occurrence to the user's hold through the holds service (which claims the hold row too),
# and then records what was done and when to look again. A retried, overlapping or crashed tick finds
# the step claimed, or its work already owned by the occurrence, so nothing is applied twice or lost.

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime

from shared.audit.store import AuditLog
from shared.holds.rules import CLAIM_LEASE, Failure, Hold, retry_delay
from shared.holds.service import HoldService
from shared.platform import metrics
from shared.platform.budget import Priority, is_budget_exhausted
from shared.platform.clock import Clock
from shared.platform.errors import ServiceError
from shared.platform.graph import PresenceGateway
from shared.platform.tables import Conflict
from shared.platform.ticking import drain_due
from shared.platform.timeline import DueEntry, Timeline
from shared.schedules.recurrence import (
    Occurrence,
    Series,
    Transition,
    due_transition,
    mark_text,
    marked_by,
    next_transition_at,
    occurrence_at,
    occurrence_number,
    parse_series,
    status_at,
    with_mark,
)
from shared.schedules.rules import Running, abandoned, ended, owner_of, started
from shared.schedules.store import ScheduleRecord, ScheduleStore

log = logging.getLogger(__name__)

TIMER_CALLER = "timer:apply_schedules"
# The engine's bookkeeping on each schedule (EngineState): a claim on the row for one step; the occurrence
# running (applied, not yet undone); a partial one, whose start is under way or failed half-way (some of
# its parts reached Graph), undone like an end when the occurrence is skipped or the schedule cancelled,
# and written with the claim so a worker that dies after Graph took the start leaves it too; and where the
# series' evaluation resumes (the occurrence last done, or the last one ended when the schedule was
# written), so that a query costs the same however old the series is.


_NOTHING = (False, False)  # what `_step` returns when it carried nothing out


def started_in_part(record: ScheduleRecord) -> bool:
    """A start may have left some of its parts in Graph: the schedule counts as active."""
    return record.engine.partial_index is not None


def series_of(record: ScheduleRecord, now: datetime | None = None) -> Series:
    """A stored schedule's timing, resuming at its stored mark; a row written before marks were stored
    (0.6), given `now`, at the last occurrence ended by then: found from the first occurrence, so callers
    run this off the event loop."""
    series = parse_series(record.start, record.end, record.time_zone, record.recurrence, None)
    series = with_mark(series, record.engine.resume)
    return series if now is None else marked_by(series, now)


def resume_mark(series: Series) -> str | None:
    """A recurrence's mark as its schedule stores it (None when it has none)."""
    if series.mark is None or series.rule is None:  # a one-off is evaluated at once anyway
        return None
    return mark_text(series, series.mark)


def in_step(record: ScheduleRecord, now: datetime) -> bool:
    """A worker has claimed the schedule for a step: changing it now would race that step."""
    claimed = record.engine.claimed_until
    return claimed is not None and claimed > now


class ScheduleEngine:
    def __init__(
        self,
        store: ScheduleStore,
        timeline: Timeline,
        holds: HoldService,
        gateway: PresenceGateway,
        audit: AuditLog,
        clock: Clock,
        *,
        max_attempts: int,
        concurrency: int,
        tick_time_limit: float = 240,
    ) -> None:
        self._store = store
        self._timeline = timeline
        self._holds = holds
        self._gateway = gateway
        self._audit = audit
        self._clock = clock
        self._max_attempts = max_attempts
        self._concurrency = concurrency
        self._tick_time_limit = tick_time_limit

    async def tick(self) -> int:
        """One tick: every due schedule takes its due steps (several when catching up), after renewals in
        the Graph budget, until none is due or the tick's time is up. Returns how many steps were taken."""

        async def catch_up(entry: DueEntry) -> int:
            return await self._catch_up(entry, self._clock.now())

        return await drain_due(
            self._timeline,
            "schedule",
            self._clock,
            catch_up,
            priority=Priority.CHANGE,
            concurrency=self._concurrency,
            time_limit=self._tick_time_limit,
        )

    async def settle_now(self, schedule_id: str) -> None:
        """Take a schedule's due steps right away (a cancelled one that was running is reverted before
        DELETE answers); whatever fails here is retried by the timer, from the same due entry."""
        now = self._clock.now()
        await self._catch_up(self._timeline.entry(now, "schedule", schedule_id), now)

    async def _catch_up(self, entry: DueEntry, now: datetime) -> int:
        steps = 0
        try:
            while True:  # a schedule may owe an end, a skip and a start at once
                acted, more = await self._step(entry, now)
                steps += acted
                if not more or steps > 10:
                    break
                entry = self._timeline.entry(now, "schedule", entry.ref)  # where the step indexed it
        except Conflict:
            pass  # another worker is on it
        except ServiceError as error:
            log.warning("a schedule step was skipped: %s", error.code)
        except Exception:  # one bad schedule never stops the tick; its entry stays due and is retried
            log.exception("a schedule step failed unexpectedly")
        return steps

    async def _step(self, entry: DueEntry, now: datetime) -> tuple[bool, bool]:
        """One transition of one schedule: (one was carried out, another is due right away and indexed at
        `now`)."""
        record, etag = await self._store.get(entry.ref)
        if record is None or etag is None:
            await self._timeline.remove(entry)
            return _NOTHING
        if in_step(record, now):
            return _NOTHING
        series = await asyncio.to_thread(series_of, record, now)
        if record.status == "cancelled":
            return await self._undo_cancelled(record, etag, series, entry, now)
        if record.status in {"completed", "failed"}:
            await self._timeline.remove(entry)
            return _NOTHING
        retry_at = _retry_at(record)
        if retry_at is not None and retry_at > now:  # an older entry (a PATCH leaves one): back-off first
            await self._timeline.move(entry, retry_at, "schedule", record.id)
            return _NOTHING
        # The rule's evaluation runs off the event loop: cheap from the mark, but a rule that stops matching
        # is iterated to the end of its frame (up to ~0.2 s) when asked past its last occurrence.
        transition = await asyncio.to_thread(due_transition, series, record.last_done, now)
        if transition is None:
            await self._settle(record, etag, series, entry, now)
            return _NOTHING
        skip_reason = "ok"
        if await self._out_of_office_at_start(record, transition):
            occurrence = transition.occurrence
            transition = Transition("skip", occurrence, range(occurrence.index, occurrence.index + 1))
            skip_reason = "outOfOffice"
        starting = transition.occurrence.index if transition.kind == "start" else None
        etag = await self._claim(record, etag, now, starting=starting)
        if starting is not None:
            await self._store.mark_running(record, True)
        elif transition.kind == "end" or started_in_part(record):
            # Before the end, under the claim: an ending schedule is no successor, and no later step of
            # this schedule can set the flag before this clears it.
            await self._store.mark_running(record, False)
        try:
            await self._carry_out(record, series, transition, now, skip_reason)
        except ServiceError as error:
            await self._failed(record, etag, series, transition, error, entry, now)
            return _NOTHING
        done = await asyncio.to_thread(_after, record, transition, series, now)
        await self._store.replace(done, etag)
        metrics.schedule_transition(transition.kind)
        await self._reindex(done, series, entry, now, claimed=True)
        return True, await asyncio.to_thread(due_transition, series, done.last_done, now) is not None

    async def _out_of_office_at_start(self, record: ScheduleRecord, transition: Transition) -> bool:
        """skipWhenOutOfOffice: a fresh start (not a retry of one begun) reads the user's presence first
        (a failed read is retried next tick like any step)."""
        if not record.skip_when_out_of_office or transition.kind != "start":
            return False
        if record.engine.partial_index is not None:
            return False
        return (await self._gateway.presence(record.user_id)).out_of_office

    async def _carry_out(
        self,
        record: ScheduleRecord,
        series: Series,
        transition: Transition,
        now: datetime,
        skip_reason: str = "ok",
    ) -> None:
        run = Running(record, transition.occurrence)
        if transition.kind == "skip":
            partial = record.engine.partial_index
            if partial is not None and partial in transition.skipped:
                partly = Transition("end", occurrence_number(series, partial))
                await self._carry_out(record, series, partly, now)
            await self._audit.append(
                now,
                TIMER_CALLER,
                record.user,
                record.user_id,
                "schedule.skip",
                skip_reason,
                schedule_id=record.id,
            )
            return
        shown = await self._shown_message(record)
        if transition.kind == "start":
            await self._holds.apply_schedule(
                TIMER_CALLER,
                record.user_id,
                record.user,
                "schedule.start",
                lambda hold: started(hold, run, now, shown),
                record.id,
            )
        else:

            async def end(hold: Hold) -> Hold:
                # Looked up after the hold was read: a successor that ends or is cancelled meanwhile
                # writes the hold first (its flag cleared before), so this is redone without it.
                return ended(hold, run, now, shown, await self._successor(record, now))

            await self._holds.apply_schedule(
                TIMER_CALLER, record.user_id, record.user, "schedule.end", end, record.id
            )

    async def _shown_message(self, record: ScheduleRecord) -> str | None:
        # Only a schedule with a message needs to know what is shown (to restore it, or to see a change).
        if record.status_message is None:
            return None
        return (await self._gateway.presence(record.user_id)).status_message

    async def _successor(self, record: ScheduleRecord, now: datetime) -> Running | None:
        """The latest-started other schedule of this user still running: it shows again when this ends."""
        running: list[Running] = []
        for other in await self._store.running_for_user(record.user_id):
            if other.id == record.id or other.status != "active" or other.last_done is None:
                continue
            if other.last_done[1] != "start":
                continue
            occurrence = await asyncio.to_thread(_running_at, other, now)
            if occurrence is not None and occurrence.index == other.last_done[0]:
                running.append(Running(other, occurrence))
        return max(running, key=lambda r: r.occurrence.start, default=None)

    async def _undo_cancelled(
        self, record: ScheduleRecord, etag: str, series: Series, entry: DueEntry, now: datetime
    ) -> tuple[bool, bool]:
        """A cancelled schedule that was running is reverted as if its occurrence had ended now."""
        running, partial = record.engine.running_index, record.engine.partial_index
        index = running if running is not None else partial
        if index is not None:
            occurrence = occurrence_number(series, index)
            etag = await self._claim(record, etag, now)
            await self._store.mark_running(record, False)
            try:
                await self._carry_out(record, series, Transition("end", occurrence), now)
            except ServiceError as error:
                await self._failed(record, etag, series, Transition("end", occurrence), error, entry, now)
                return _NOTHING
            await self._store.replace(replace(record, engine=record.engine.idle(), updated_at=now), etag)
        await self._timeline.remove(entry)
        return _NOTHING

    async def _claim(
        self, record: ScheduleRecord, etag: str, now: datetime, *, starting: int | None = None
    ) -> str:
        await self._timeline.add(now + CLAIM_LEASE, "schedule", record.id)
        engine = replace(record.engine, claimed_until=now + CLAIM_LEASE)
        if starting is not None:
            engine = replace(engine, partial_index=starting)
        return await self._store.replace(replace(record, engine=engine), etag)

    async def _failed(
        self,
        record: ScheduleRecord,
        etag: str,
        series: Series,
        transition: Transition,
        error: ServiceError,
        entry: DueEntry,
        now: datetime,
    ) -> None:
        # Our own budget spent before the tick's time was up: not the schedule's failure, and due again now.
        spent = is_budget_exhausted(error)
        attempts = record.attempts + (0 if spent else 1)
        failed = not spent and attempts >= self._max_attempts
        engine = replace(record.engine, claimed_until=None)
        if transition.kind == "start" and await self._holds.owned_by(
            record.user_id, owner_of(record, transition.occurrence)
        ):
            engine = replace(engine, partial_index=transition.occurrence.index)
        if failed:  # under the claim, before the status says so: a failure here is retried whole
            await self._abandon(record, now)
            await self._store.mark_running(record, False)
            # What it set ends with Graph's expiry; a PATCH may now reuse it.
            engine = replace(engine, partial_index=None)
        outcome = replace(
            record,
            attempts=attempts,
            last_error=record.last_error if spent else Failure(error.code, error.detail, now),
            status="failed" if failed else record.status,
            updated_at=now,
            engine=engine,
        )
        await self._audit.append(
            now,
            TIMER_CALLER,
            record.user,
            record.user_id,
            f"schedule.{transition.kind}",
            error.code,
            schedule_id=record.id,
        )
        await self._store.replace(outcome, etag)
        if not spent:  # our own budget running out is not the schedule's failure
            metrics.schedule_failed(transition.kind, error.code, for_good=failed)
        if failed:
            log.warning("a schedule failed for good after %d attempts (%s)", attempts, error.code)
        retry_at = now if spent else None if failed else now + retry_delay(attempts)
        await self._timeline.move(entry, retry_at, "schedule", record.id)
        await self._drop_lease(record, now, retry_at)

    async def _abandon(self, record: ScheduleRecord, now: datetime) -> None:
        """Leave what the schedule set to Graph's expiry (no Graph call); raises if the hold cannot be
        written, so the step is retried whole once the claim's lease ends."""
        await self._holds.apply_schedule(
            TIMER_CALLER,
            record.user_id,
            record.user,
            "schedule.abandon",
            lambda hold: abandoned(hold, record.id),
            record.id,
        )

    async def _settle(
        self, record: ScheduleRecord, etag: str, series: Series, entry: DueEntry, now: datetime
    ) -> None:
        """Nothing due: bring the status up to date and index the next moment."""
        status = await asyncio.to_thread(status_at, series, record.last_done, now)
        if status != record.status:
            record = replace(record, status=status, updated_at=now)
            await self._store.replace(record, etag)
        await self._reindex(record, series, entry, now)

    async def _reindex(
        self, record: ScheduleRecord, series: Series, entry: DueEntry, now: datetime, *, claimed: bool = False
    ) -> None:
        finished = record.status in {"completed", "failed", "cancelled"}
        due = None if finished else await asyncio.to_thread(next_transition_at, series, record.last_done, now)
        await self._timeline.move(entry, due, "schedule", record.id)
        if claimed:
            await self._drop_lease(record, now, due)

    async def _drop_lease(self, record: ScheduleRecord, now: datetime, due: datetime | None) -> None:
        lease = self._timeline.entry(now + CLAIM_LEASE, "schedule", record.id)
        await self._timeline.move(lease, due, "schedule", record.id, written=True)


def _running_at(record: ScheduleRecord, now: datetime) -> Occurrence | None:
    return occurrence_at(series_of(record, now), now)


def _retry_at(record: ScheduleRecord) -> datetime | None:
    """When a failed step may be tried again (None: nothing failed)."""
    error = record.last_error
    return None if error is None else error.at + retry_delay(record.attempts)


def _after(record: ScheduleRecord, transition: Transition, series: Series, now: datetime) -> ScheduleRecord:
    engine = record.engine.idle()
    if transition.kind == "start":
        engine = replace(engine, running_index=transition.occurrence.index)
    mark = resume_mark(replace(series, mark=transition.occurrence.mark))
    if mark is not None:
        engine = replace(engine, resume=mark)
    last_done = transition.done
    return replace(
        record,
        last_done=last_done,
        status=status_at(series, last_done, now),
        attempts=0,
        last_error=None,
        updated_at=now,
        engine=engine,
    )
