"""Schedules through the API: create (idempotent), read, list, change (If-Match) and cancel. Applying
them over time is the `apply_schedules` timer's job; this module only records them and indexes each at
the moment it next needs the timer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.api.http import validation_problem
from shared.api.models import LastError, PreferredPair, PresencePair, Schedule, ScheduleFields, ScheduleInput
from shared.audit.store import AuditLog
from shared.directory.ids import parse_user
from shared.directory.service import UserDirectory
from shared.platform.clock import Clock
from shared.platform.errors import (
    IDEMPOTENCY_KEY_BUSY,
    IDEMPOTENCY_KEY_REUSED,
    INVALID_IDEMPOTENCY_KEY,
    INVALID_REQUEST,
    INVALID_SCHEDULE,
    PRECONDITION_FAILED,
    SCHEDULE_ACTIVE,
    SCHEDULE_BUSY,
    SCHEDULE_FINISHED,
    SCHEDULE_NOT_FOUND,
    TOO_MANY_SCHEDULES,
    ServiceError,
)
from shared.platform.keys import is_record_id, new_record_id
from shared.platform.quota import Quotas
from shared.platform.tables import Conflict
from shared.platform.timeline import Timeline
from shared.presence.rules import check_message, check_pair
from shared.schedules.recurrence import Limits, Series, next_start_end, next_transition_at, parse_series
from shared.schedules.store import (
    LIVE,
    EngineState,
    IdempotencyStore,
    IdempotentCreate,
    ScheduleRecord,
    ScheduleStore,
    Status,
)
from shared.schedules.timer import in_step, resume_mark, series_of, started_in_part

IDEMPOTENCY_TTL = timedelta(hours=24)
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces


def schedule_busy() -> ServiceError:
    return SCHEDULE_BUSY("The schedule is changing right now; retry shortly.", retry_after=2)


def schedule_not_found(schedule_id: str) -> ServiceError:
    return SCHEDULE_NOT_FOUND(f"No schedule '{schedule_id[:40]}' exists.")


def check_schedule(fields: ScheduleInput, now: datetime, limits: Limits) -> Series:
    """Everything api.md asks of a schedule, before any lookup or write; a 400 naming the field. Pure CPU
    (a rule is scanned up to its first occurrences and to `now`): callers run it off the event loop."""
    parse_user(fields.user)
    if fields.status_message is None and fields.presence is None and fields.preferred_presence is None:
        raise INVALID_SCHEDULE(
            "Give at least one of statusMessage, presence, preferredPresence.", field="statusMessage"
        )
    if fields.status_message is not None:
        check_message(fields.status_message)
    if fields.presence is not None:
        check_pair("session", fields.presence.availability, fields.presence.activity)
    if fields.preferred_presence is not None:
        check_pair("preferred", fields.preferred_presence.availability, fields.preferred_presence.activity)
    return parse_series(fields.start, fields.end, fields.time_zone, fields.recurrence, now, limits)


def body_hash(fields: ScheduleInput) -> str:
    canonical = json.dumps(
        fields.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class ScheduleService:
    def __init__(
        self,
        store: ScheduleStore,
        idempotency: IdempotencyStore,
        timeline: Timeline,
        directory: UserDirectory,
        audit: AuditLog,
        clock: Clock,
        limits: Limits,
        *,
        quotas: Quotas | None = None,
        max_per_user: int = 0,
    ) -> None:
        self._quotas = quotas
        self._max_per_user = max_per_user
        self.store = store
        self._limits = limits
        self._idempotency = idempotency
        self._timeline = timeline
        self._directory = directory
        self._audit = audit
        self._clock = clock

    async def create(self, caller: str, fields: ScheduleInput, key: str | None) -> Schedule:
        """201's body. With an Idempotency-Key the same body gets the same schedule (for 24 hours), a
        different body a 409; a request that crashed half-way is completed by its retry."""
        now = self._clock.now()
        if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
            raise INVALID_IDEMPOTENCY_KEY("1-128 printable ASCII characters.", field="Idempotency-Key")
        series = await asyncio.to_thread(check_schedule, fields, now, self._limits)
        user_id = await self._directory.resolve(parse_user(fields.user))
        schedule_id = new_record_id()
        if key is not None:
            # Keys are the caller's own: another caller's key never finds (nor blocks) this one's.
            schedule_id = await self._idempotent_id(f"{caller}\n{key}", body_hash(fields), schedule_id, now)
            existing, _ = await self.store.get(schedule_id)
            if existing is not None and existing.user_id != user_id:  # moved to somebody else since
                raise IDEMPOTENCY_KEY_REUSED("This Idempotency-Key's schedule is now another user's.")
            if existing is not None:
                return await self._view(existing, now)
        engine = EngineState(resume=resume_mark(series))
        record = replace(_record(schedule_id, fields, user_id, caller, now), engine=engine)
        await self._take_slot(user_id)
        try:
            await self.store.create(record)
        except Conflict:  # the same key, racing: the other request made it
            await self._give_back(user_id)
            existing, _ = await self.store.get(schedule_id)
            assert existing is not None
            return await self._view(existing, now)
        except BaseException:
            await self._give_back(user_id)
            raise
        await self._index(record, series, now)
        await self._audit.append(
            now, caller, record.user, user_id, "schedule.create", "ok", schedule_id=schedule_id
        )
        return await self._view(record, now)

    async def _idempotent_id(self, key: str, digest: str, fresh_id: str, now: datetime) -> str:
        for _ in range(2):
            found, etag = await self._idempotency.get(key)
            if found is not None and now - found.created_at < IDEMPOTENCY_TTL:
                if found.body_hash != digest:
                    raise IDEMPOTENCY_KEY_REUSED("This Idempotency-Key was used with a different body.")
                return found.schedule_id
            try:
                await self._idempotency.claim(key, IdempotentCreate(fresh_id, digest, now), etag)
            except Conflict:
                continue  # another request with the same key claimed it first: use theirs
            return fresh_id
        raise IDEMPOTENCY_KEY_BUSY("A request with this Idempotency-Key is in progress.", retry_after=1)

    async def get(self, schedule_id: str) -> tuple[Schedule, str]:
        record, etag = await self._load(schedule_id)
        return await self._view(record, self._clock.now()), etag

    async def list(
        self, user: str | None, status: str | None, top: int, after: str | None
    ) -> tuple[list[Schedule], str | None]:
        if status is not None and status not in {"scheduled", "active", "completed", "cancelled", "failed"}:
            raise INVALID_REQUEST("scheduled, active, completed, cancelled or failed.", field="status")
        if after is not None and not is_record_id(after):
            raise INVALID_REQUEST("Use the nextLink as given.", field="after")
        user_id = await self._directory.resolve(parse_user(user, field="user")) if user is not None else None
        records, last = await self.store.list(user_id=user_id, status=status, top=top, after=after)  # type: ignore[arg-type]
        now = self._clock.now()
        # One thread for the page: the event loop goes on serving meanwhile.
        return await asyncio.to_thread(lambda: [self.view(r, now) for r in records]), last

    async def update(
        self, caller: str, schedule_id: str, patch: ScheduleFields, if_match: str | None
    ) -> tuple[Schedule, str]:
        record, etag = await self._load(schedule_id)
        if if_match is not None and if_match not in {etag, "*"}:
            raise PRECONDITION_FAILED("The schedule changed since you read it (If-Match).")
        now = self._clock.now()
        if in_step(record, now):
            raise schedule_busy()
        if record.status == "active" or started_in_part(record):
            raise SCHEDULE_ACTIVE("An active schedule cannot be changed; cancel it instead.")
        if record.status in {"cancelled", "completed"}:
            raise SCHEDULE_FINISHED(f"A {record.status} schedule cannot be changed.")
        merged = {**_input_of(record), **patch.model_dump(by_alias=False, include=patch.model_fields_set)}
        try:
            fields = ScheduleInput.model_validate(merged)
        except ValidationError as exc:
            raise validation_problem(exc) from None
        series = await asyncio.to_thread(check_schedule, fields, now, self._limits)
        user_id = record.user_id
        if "user" in patch.model_fields_set:
            user_id = await self._directory.resolve(parse_user(fields.user))
        updated = replace(
            _record(record.id, fields, user_id, record.created_by, record.created_at),
            updated_at=now,
            status="scheduled",
            last_done=None,
            version=record.version + 1,
            engine=EngineState(resume=resume_mark(series)),
        )
        # Moved to another user, or a failed one live again: it takes a slot of its (new) user.
        takes_slot = user_id != record.user_id or record.status == "failed"
        if takes_slot:
            await self._take_slot(user_id)
        try:
            new_etag = await self.store.replace(updated, etag)
        except Conflict:
            if takes_slot:
                await self._give_back(user_id)
            raise PRECONDITION_FAILED("The schedule changed meanwhile; read it again.") from None
        if user_id != record.user_id:
            if record.status in LIVE:
                await self._give_back(record.user_id)
            await self.store.move_index(updated, record.user_id)
        await self._index(updated, series, now)
        await self._audit.append(
            now, caller, updated.user, user_id, "schedule.update", "ok", schedule_id=record.id
        )
        return await self._view(updated, now), new_etag

    async def cancel(self, caller: str, schedule_id: str, if_match: str | None = None) -> bool:
        """Mark it cancelled (only the version `if_match`, when given); True when it was running, so what it
        applied must be reverted now."""
        record, etag = await self._load(schedule_id)
        if if_match is not None and if_match not in {etag, "*"}:
            raise schedule_busy()  # changed since the caller's rights were checked: check again
        if record.status in {"cancelled", "completed", "failed"}:
            return False
        now = self._clock.now()
        if in_step(record, now):  # a start under way: cancelling now would leave it applied
            raise schedule_busy()
        cancelled = replace(record, status="cancelled", updated_at=now)
        try:
            await self.store.replace(cancelled, etag)
        except Conflict:
            raise schedule_busy() from None
        await self._give_back(record.user_id)
        applied = record.status == "active" or started_in_part(record)
        if applied:
            # Due now: reverted right away by the caller (ScheduleEngine.settle_now), else by the timer.
            await self._timeline.add(now, "schedule", record.id)
        await self._audit.append(
            now, caller, record.user, record.user_id, "schedule.cancel", "ok", schedule_id=record.id
        )
        return applied

    async def _take_slot(self, user_id: str) -> None:
        """One of the user's MAX_SCHEDULES_PER_USER live schedules, or a 409 `tooManySchedules`."""
        if self._quotas is None or self._max_per_user <= 0:
            return
        limit = self._max_per_user
        full = TOO_MANY_SCHEDULES(
            f"The user has {limit} schedules to run already (MAX_SCHEDULES_PER_USER); cancel one first.",
            extensions={"field": "user"},
        )
        await self._quotas.take("schedules", user_id, limit, lambda: self.store.count_live(user_id), full)

    async def _give_back(self, user_id: str) -> None:
        if self._quotas is not None and self._max_per_user > 0:
            await self._quotas.give_back("schedules", user_id)

    async def _load(self, schedule_id: str) -> tuple[ScheduleRecord, str]:
        if not is_record_id(schedule_id):
            raise schedule_not_found(schedule_id)  # never reaches a table key
        record, etag = await self.store.get(schedule_id)
        if record is None or etag is None:
            raise schedule_not_found(schedule_id)
        return record, etag

    async def _index(self, record: ScheduleRecord, series: Series, now: datetime) -> None:
        # Due now if an occurrence is already running: a tick starts it (a late start, not a skip).
        due = next_transition_at(series, None, now)
        if due is not None:
            await self._timeline.add(due, "schedule", record.id)

    async def _view(self, record: ScheduleRecord, now: datetime) -> Schedule:
        return await asyncio.to_thread(self.view, record, now)

    def view(self, record: ScheduleRecord, now: datetime) -> Schedule:
        """The API's view: pure CPU, cheap from the schedule's stored mark (a row written before marks were
        stored is evaluated from its first occurrence), so callers run it off the event loop."""
        next_start = next_end = None
        if record.status in {"scheduled", "active"}:
            next_start, next_end = next_start_end(series_of(record, now), now)
        error = record.last_error
        return Schedule(
            id=record.id,
            user=record.user,
            user_id=record.user_id,
            start=record.start,
            end=record.end,
            time_zone=record.time_zone,
            recurrence=record.recurrence,
            status_message=record.status_message,
            presence=_pair(record.presence),
            preferred_presence=_preferred(record.preferred_presence),
            restore_previous=record.restore_previous,
            skip_when_out_of_office=record.skip_when_out_of_office,
            status=record.status,
            next_start=next_start,
            next_end=next_end,
            created_at=record.created_at,
            created_by=record.created_by,
            updated_at=record.updated_at,
            attempts=record.attempts,
            last_error=LastError(code=error.code, message=error.message, at=error.at) if error else None,
        )


def _pair(pair: tuple[str, str] | None) -> PresencePair | None:
    return PresencePair(availability=pair[0], activity=pair[1]) if pair else None


def _preferred(pair: tuple[str, str] | None) -> PreferredPair | None:
    return PreferredPair(availability=pair[0], activity=pair[1]) if pair else None


def _record(schedule_id: str, f: ScheduleInput, user_id: str, caller: str, now: datetime) -> ScheduleRecord:
    status: Status = "scheduled"
    return ScheduleRecord(
        id=schedule_id,
        user=f.user,
        user_id=user_id,
        start=f.start,
        end=f.end,
        time_zone=f.time_zone,
        recurrence=f.recurrence,
        status_message=f.status_message,
        presence=(f.presence.availability, f.presence.activity) if f.presence else None,
        preferred_presence=(f.preferred_presence.availability, f.preferred_presence.activity)
        if f.preferred_presence
        else None,
        restore_previous=True if f.restore_previous is None else f.restore_previous,
        skip_when_out_of_office=bool(f.skip_when_out_of_office),
        status=status,
        created_at=now,
        created_by=caller,
        updated_at=now,
    )


def _input_of(r: ScheduleRecord) -> dict[str, Any]:
    return {
        "user": r.user,
        "start": r.start,
        "end": r.end,
        "time_zone": r.time_zone,
        "recurrence": r.recurrence,
        "status_message": r.status_message,
        "restore_previous": r.restore_previous,
        "skip_when_out_of_office": r.skip_when_out_of_office,
        "presence": _pair(r.presence),
        "preferred_presence": _preferred(r.preferred_presence),
    }
