"""Presence watches, the shell: making, reading and deleting watches (WatchService), and the
poll_watches timer (WatchPoller) that finds what changed and delivers each change once."""

# The poller reads every watched user in one bulk read, finds what changed since each watch last looked,
# and delivers each change once to the watch's callback, signed, with back-off.
#
# Why polling: Graph's presence change notifications are delegated-only; an application identity can only
# read. getPresencesByUserId answers 650 users a call, so a tick costs ceil(watched users / 650) calls,
# shared by every watch, within the tenant's presence budget.

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from shared.api.models import MAX_WATCH_USERS, Duplicate, LastError, Watch, WatchFilter, WatchInput
from shared.audit.store import AuditLog
from shared.directory.ids import UserRef, is_user_id, parse_user
from shared.directory.service import UserDirectory
from shared.holds.rules import Failure
from shared.platform import metrics
from shared.platform.clock import Clock
from shared.platform.errors import (
    CALLBACK_FAILED,
    CALLBACK_GONE,
    GROUP_TOO_LARGE,
    INVALID_GROUP,
    INVALID_REQUEST,
    INVALID_WATCH,
    TOO_MANY_WATCHES,
    USER_NOT_FOUND,
    WATCH_BUSY,
    FieldError,
    ServiceError,
    watch_not_found,
)
from shared.platform.gathering import gather_bounded
from shared.platform.graph import GraphPresence, PresenceGateway
from shared.platform.keys import is_record_id, new_record_id
from shared.platform.quota import Quotas
from shared.platform.tables import Conflict
from shared.watches.rules import (
    Cause,
    Filter,
    Seen,
    Write,
    cause_of,
    changed,
    check_callback_url,
    delivery_key,
    gives_up,
    new_secret,
    notification,
    retry_delay,
)
from shared.watches.store import Delivery, Member, WatchRecord, WatchStore
from shared.watches.webhooks import Answer, WebhookSender

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_CALLER = "timer:poll_watches"
# One slow receiver must not hold the timer (nor the other watches): a watch's round sends for at most
# ROUND_TIME (plus one POST's timeout), and a tick takes up no new watch after TICK_TIME.
ROUND_TIME = timedelta(seconds=30)
TICK_TIME = timedelta(seconds=30)
_LEASE = timedelta(minutes=5)  # > ROUND_TIME + a POST's timeout: a live round never loses its claim
_PER_ROUND = 100
# What a delivery round decides about a watch; the rest of the row is left as the poller found it.
_DELIVERY_STATE = (
    "status",
    "delivered",
    "failures",
    "failing_since",
    "retry_at",
    "last_error",
    "claimed_until",
    "disabled_at",
)
_CONCURRENCY = 16


class WatchService:
    def __init__(
        self,
        store: WatchStore,
        directory: UserDirectory,
        gateway: PresenceGateway,
        audit: AuditLog,
        clock: Clock,
        quotas: Quotas,
        *,
        allow_loopback_http: bool,
    ) -> None:
        self._quotas = quotas
        self.store = store
        self._directory = directory
        self._gateway = gateway
        self._audit = audit
        self._clock = clock
        self._allow_loopback_http = allow_loopback_http

    def targets(self, body: WatchInput) -> list[UserRef] | str:
        """What the watch is over, checked before anything is read: the users (each a valid id or UPN) or
        the group's object id. Exactly one of the two; a 400 naming the field otherwise."""
        check_callback_url(body.callback_url, allow_loopback_http=self._allow_loopback_http)
        if (body.users is None) == (body.group is None):
            raise INVALID_WATCH("Give users or group (one of the two).", field="users")
        if body.group is not None:
            if not is_user_id(body.group):  # Entra object ids, of users and groups alike, are GUIDs
                raise INVALID_GROUP("A group's object id (a GUID).", field="group")
            return body.group.lower()
        return [parse_user(user, field=f"users[{index}]") for index, user in enumerate(body.users or [])]

    async def create(
        self, caller: str, body: WatchInput, targets: list[UserRef] | str, *, limit: int | None = None
    ) -> Watch:
        """Resolve the users (or read the group's members), store the watch, and answer it with its secret,
        which is shown this once. `limit`: how many watches this caller may have (None: no limit), a slot
        taken before anything is read and given back if the watch is not made."""
        if limit is None:
            return await self._create(caller, body, targets)
        full = TOO_MANY_WATCHES(f"You have {limit} watches already; delete one first.")
        await self._quotas.take("watches", caller, limit, lambda: self.store.count_by(caller), full)
        try:
            return await self._create(caller, body, targets)
        except BaseException:
            await self._quotas.give_back("watches", caller)
            raise

    async def _create(self, caller: str, body: WatchInput, targets: list[UserRef] | str) -> Watch:
        now = self._clock.now()
        duplicates: list[Duplicate] = []
        if isinstance(targets, str):
            members = await self._gateway.group_members(targets, limit=MAX_WATCH_USERS)
            if len(members) > MAX_WATCH_USERS:
                raise GROUP_TOO_LARGE(f"The group has more than {MAX_WATCH_USERS:,} users.", field="group")
        else:
            members, duplicates = await self._resolve(targets)
        kept = body.filter or WatchFilter()
        record = WatchRecord(
            id=new_record_id(),
            group=targets if isinstance(targets, str) else None,
            callback_url=body.callback_url,
            filter=Filter(frozenset(kept.availability or ()), frozenset(kept.activity or ())),
            include_own_changes=body.include_own_changes,
            secret=new_secret(),
            status="active",
            created_at=now,
            created_by=caller,
            member_count=len(members),
            members_refreshed_at=now if isinstance(targets, str) else None,
        )
        await self.store.create(record, members)
        await self._audit.append(now, caller, _subject(record), "", "watch.create", "ok", watch_id=record.id)
        shown = to_api(record, sorted(members.values()) if record.group is None else None)
        return shown.model_copy(update={"secret": record.secret, "duplicates": duplicates})

    async def _resolve(self, refs: list[UserRef]) -> tuple[dict[str, str], list[Duplicate]]:
        """Object id -> the user as first given, each distinct user once (a UPN in any case, or a UPN and
        its id); the other spellings as duplicates. Every unknown user is named once in the 404."""
        found = await self._directory.resolve_many(refs)
        members: dict[str, str] = {}
        duplicates: list[Duplicate] = []
        spellings: set[str] = set()
        errors: list[FieldError] = []
        for index, ref in enumerate(refs):
            if ref.given in spellings:
                continue  # an exact repeat: nothing to map
            spellings.add(ref.given)
            outcome = found[ref.normalized]
            if isinstance(outcome, ServiceError):
                if outcome.code != USER_NOT_FOUND.code:
                    raise outcome
                errors.append(FieldError(f"users[{index}]", outcome.detail))
            elif outcome in members:
                duplicates.append(Duplicate(user=ref.given, same_as=members[outcome]))
            else:
                members[outcome] = ref.given
        if errors:
            raise USER_NOT_FOUND(errors[0].message, errors=errors)
        return members, duplicates

    async def get(self, watch_id: str) -> tuple[WatchRecord, str]:
        if not is_record_id(watch_id):
            raise watch_not_found()  # never a table key from bad input
        record, etag = await self.store.get(watch_id)
        if record is None or etag is None:
            raise watch_not_found()
        return record, etag

    async def show(self, record: WatchRecord) -> Watch:
        """The watch as the API shows it: a users watch lists its users as they were given."""
        users = None
        if record.group is None:
            users = sorted(m.user for m in await self.store.members(record.id))
        return to_api(record, users)

    async def page(
        self, created_by: str | None, top: int, after: str | None
    ) -> tuple[list[Watch], str | None]:
        if after is not None and not is_record_id(after):
            raise INVALID_REQUEST("Use the nextLink as given.", field="after")
        records, last = await self.store.page(created_by=created_by, top=top, after=after)
        return [to_api(r, None) for r in records], last

    async def enable(self, caller: str, record: WatchRecord, etag: str) -> Watch:
        """A disabled watch back on, its failures forgotten. Disabling put each member's baseline back to
        what the receiver was last told (WatchStore.drop_pending), so the first tick tells one change for
        each user whose presence differs from that. Enabling an active watch changes nothing."""
        if record.status == "active":
            return await self.show(record)
        check_callback_url(record.callback_url, allow_loopback_http=self._allow_loopback_http)
        enabled = replace(
            record, status="active", disabled_at=None, failures=0, failing_since=None, retry_at=None
        )
        try:
            await self.store.replace(enabled, etag)
        except Conflict:
            raise WATCH_BUSY("The watch is being changed right now; retry.", retry_after=2) from None
        now = self._clock.now()
        await self._audit.append(now, caller, _subject(record), "", "watch.enable", "ok", watch_id=record.id)
        return await self.show(enabled)

    async def delete(self, caller: str, record: WatchRecord) -> None:
        if await self.store.delete(record.id):
            await self._quotas.give_back("watches", record.created_by)  # its maker's slot, if counted
        now = self._clock.now()
        await self._audit.append(now, caller, _subject(record), "", "watch.delete", "ok", watch_id=record.id)


def to_api(record: WatchRecord, users: list[str] | None) -> Watch:
    error = record.last_error
    return Watch(
        id=record.id,
        users=users,
        group=record.group,
        member_count=record.member_count,
        callback_url=shown_url(record.callback_url),
        filter=WatchFilter(
            availability=sorted(record.filter.availability) or None,
            activity=sorted(record.filter.activity) or None,
        )
        if record.filter != Filter()
        else None,
        include_own_changes=record.include_own_changes,
        status=record.status,
        created_at=record.created_at,
        created_by=record.created_by,
        delivered=record.delivered,
        failing_since=record.failing_since,
        next_attempt_at=record.retry_at if record.status == "active" else None,
        last_error=LastError(code=error.code, message=error.message, at=error.at) if error else None,
        disabled_at=record.disabled_at,
        members_refreshed_at=record.members_refreshed_at,
    )


def shown_url(url: str) -> str:
    """The callback URL as the API shows it: without its query, which is often the credential (a Power
    Automate trigger URL's `sig=` lets anyone who has it run the flow)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="…" if parts.query else "", fragment=""))


def _subject(record: WatchRecord) -> str:
    """What the audit row names as the watch's subject: its group, or how many users."""
    return f"group:{record.group}" if record.group else f"{record.member_count} users"


@dataclass(frozen=True)
class PollReport:
    watches: int
    users: int
    changes: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class _Change:
    watch: WatchRecord
    member: Member
    current: Seen


class WatchPoller:
    def __init__(
        self,
        store: WatchStore,
        gateway: PresenceGateway,
        audit: AuditLog,
        clock: Clock,
        *,
        renewer: str,
        group_refresh: timedelta,
        disable_after: timedelta,
        allow_loopback_http: bool,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._audit = audit
        self._clock = clock
        self._renewer = renewer
        self._group_refresh = group_refresh
        self._disable_after = disable_after
        self._allow_loopback_http = allow_loopback_http

    async def tick(self) -> PollReport:
        """Refresh due group memberships, read every watched user once, put each change in the outbox of
        every watch that wants it, then deliver what is due. Safe to overlap and to crash anywhere."""
        try:
            watches = [w for w, _ in await self._store.all(status="active")]
            watches = await self._refresh_groups(watches)
            by_watch = await self._members(watches)
            watches = [w for w in watches if w.id in by_watch]
            user_ids = sorted({m.user_id for found in by_watch.values() for m in found})
            changes = await self._detect(watches, by_watch, user_ids) if user_ids else 0
        finally:  # what earlier ticks queued goes out even when this one could not look
            delivered, failed = await self.deliver()
        return PollReport(len(watches), len(user_ids), changes, delivered, failed)

    async def _members(self, watches: list[WatchRecord]) -> dict[str, list[Member]]:
        """Each watch's members; a watch whose members cannot be read is left out of this tick."""

        async def one(watch: WatchRecord) -> list[Member] | None:
            try:
                return await self._store.members(watch.id)
            except ServiceError as error:
                log.warning("poll_watches: a watch's members not read (%s)", error.code)
                return None

        found = await _gather([one(w) for w in watches])
        return {w.id: m for w, m in zip(watches, found, strict=True) if m is not None}

    # --- detecting -------------------------------------------------------------------------------------

    async def _detect(
        self, watches: list[WatchRecord], members: dict[str, list[Member]], user_ids: list[str]
    ) -> int:
        since = await self._store.last_read()
        read_at = self._clock.now()
        found = await self._gateway.presences(user_ids)
        failed = [e for e in found.values() if isinstance(e, ServiceError) and e.code != USER_NOT_FOUND.code]
        if failed:
            log.warning("poll_watches: %d of %d users not read (%s)", len(failed), len(found), failed[0].code)
        baselines: list[tuple[Member, Seen]] = []
        changes: list[_Change] = []
        for watch in watches:
            for member in members[watch.id]:
                presence = found.get(member.user_id)
                if not isinstance(presence, GraphPresence):
                    continue  # not read this time: compared next time, against the same baseline
                current = Seen(presence.availability, presence.activity, presence.sequence_number)
                if member.seen is None:
                    baselines.append((member, current))
                elif changed(member.seen, current):
                    changes.append(_Change(watch, member, current))
        # The window of the service's own writes ends when the read did (a write that landed during it
        # shows in it) and starts where the previous read started.
        causes = await self._causes([c.member for c in changes], since, self._clock.now())
        moved: dict[str, list[tuple[Member, Seen, Delivery | None]]] = {}
        for c in changes:
            cause = causes[c.member.user_id]
            wanted = c.watch.filter.admits(c.current) and (
                c.watch.include_own_changes or cause.by != "service"
            )
            told = self._delivery(c, cause, read_at) if wanted else None
            moved.setdefault(c.watch.id, []).append((c.member, c.current, told))
        for member, seen in baselines:
            moved.setdefault(member.watch_id, []).append((member, seen, None))
        await _gather([self._record_changes(w, items, read_at) for w, items in moved.items()])
        await self._store.set_last_read(read_at)
        return sum(1 for items in moved.values() for *_, told in items if told is not None)

    async def _record_changes(
        self, watch_id: str, items: list[tuple[Member, Seen, Delivery | None]], read_at: datetime
    ) -> None:
        """One watch's part of a tick, on its own (storage failing here costs only this watch this tick):
        each change and its baseline in one transaction (WatchStore.record). When something goes to the
        outbox, the flag before makes sure the watch is looked at; the flag after makes a deliverer that
        read the outbox before these rows were in it fail its ETag, and so keep the flag."""
        flag = any(told is not None for *_, told in items)
        try:
            if flag:
                await self._store.flag_pending(watch_id)
            try:
                await self._store.record(watch_id, items, read_at)
            finally:
                if flag:
                    await self._store.flag_pending(watch_id)
        except ServiceError as error:
            log.warning("poll_watches: a watch's changes not recorded (%s); next tick", error.code)

    def _delivery(self, change: _Change, cause: Cause, read_at: datetime) -> Delivery:
        previous, member = change.member.seen, change.member
        assert previous is not None
        assert member.seen_at is not None
        key = delivery_key(member.user_id, previous, change.current, member.seen_at)
        body = notification(
            watch_id=change.watch.id,
            delivery_id=delivery_id(change.watch.id, key),
            user=member.user,
            user_id=member.user_id,
            previous=previous,
            current=change.current,
            changed_at=read_at,
            cause=cause,
        )
        return Delivery(change.watch.id, key, body, read_at)

    async def _causes(
        self, members: list[Member], since: datetime | None, until: datetime
    ) -> dict[str, Cause]:
        """Who changed each user's presence: the service's own writes since the previous read, from the
        audit trail (one query per changed user). Before any previous read, since the user's baseline."""
        first_seen = {m.user_id: m.seen_at for m in members}

        async def one(user_id: str, seen_at: datetime | None) -> Cause:
            start = since or seen_at or until
            records, _ = await self._audit.page(user_id=user_id, since=start, until=until, top=50, after=None)
            writes = [Write(r.at, r.operation, r.caller, r.schedule_id) for r in records if r.outcome == "ok"]
            return cause_of(writes, start, until, self._renewer)

        found = await _gather([one(user_id, seen_at) for user_id, seen_at in first_seen.items()])
        return dict(zip(first_seen, found, strict=True))

    # --- groups ----------------------------------------------------------------------------------------

    async def _refresh_groups(self, watches: list[WatchRecord]) -> list[WatchRecord]:
        now = self._clock.now()
        due = [
            w
            for w in watches
            if w.group
            and (w.members_refreshed_at is None or now - w.members_refreshed_at >= self._group_refresh)
        ]
        refreshed = {w.id: w for w in await _gather([self._refresh(w, now) for w in due])}
        return [refreshed.get(w.id, w) for w in watches]

    async def _refresh(self, watch: WatchRecord, now: datetime) -> WatchRecord:
        """Read the group's members again: new ones start with a baseline, gone ones are dropped. Graph or
        storage failing leaves the members as they were, tried again next tick; other watches go on."""
        assert watch.group is not None
        try:
            wanted = await self._gateway.group_members(watch.group, limit=MAX_WATCH_USERS)
            if len(wanted) > MAX_WATCH_USERS:
                log.warning("poll_watches: a group has over %d users; watching the first", MAX_WATCH_USERS)
                wanted = dict(sorted(wanted.items())[:MAX_WATCH_USERS])
            current, etag = await self._store.get(watch.id)
            if current is None or etag is None or current.status != "active":
                return watch  # deleted or disabled meanwhile: its members are not to be brought back
            await self._store.set_members(watch.id, wanted, await self._store.members(watch.id), now)
            updated = replace(current, members_refreshed_at=now, member_count=len(wanted))
            with contextlib.suppress(Conflict):  # somebody refreshed or delivered meanwhile: members are set
                await self._store.replace(updated, etag)
            return updated
        except ServiceError as error:
            log.warning("poll_watches: a group's members not refreshed (%s)", error.code)
            return watch

    # --- delivering ------------------------------------------------------------------------------------

    async def deliver(self) -> tuple[int, int]:
        """Send every due watch's outbox, oldest first, each watch on its own (one failing receiver holds
        back only its own watch), each for at most ROUND_TIME, and no new watch taken up once the tick has
        spent TICK_TIME delivering: the rest go next tick. Returns (delivered, watches that failed)."""
        started = time.monotonic()
        now = self._clock.now()
        due = [
            (w, etag)
            for w, etag in await self._store.all(status="active")
            if w.has_pending
            and (w.retry_at is None or w.retry_at <= now)
            and (w.claimed_until is None or w.claimed_until <= now)
        ]
        if not due:
            return 0, 0

        async def in_time(watch: WatchRecord, etag: str) -> tuple[int, bool]:
            if time.monotonic() - started > TICK_TIME.total_seconds():
                return 0, True
            return await self._deliver(watch, etag, sender)

        async with WebhookSender(allow_loopback=self._allow_loopback_http) as sender:
            results = await _gather([in_time(w, etag) for w, etag in due])
        return sum(sent for sent, _ in results), sum(1 for _, ok in results if not ok)

    async def _deliver(self, watch: WatchRecord, etag: str, sender: WebhookSender) -> tuple[int, bool]:
        """One watch's round: claim it, send its outbox in order until a failure, ROUND_TIME or
        _PER_ROUND, checking before each POST that the watch is still there and still ours, then record
        the outcome. A failure here (storage) is this watch's alone: its claim runs out, it goes again."""
        try:
            now = self._clock.now()
            claim = replace(watch, claimed_until=now + _LEASE)
            try:
                etag = await self._store.replace(claim, etag)
            except Conflict:
                return 0, True  # another worker has it
            started = time.monotonic()
            sent, answer, more = 0, None, False
            for delivery in (await self._store.pending(watch.id))[: _PER_ROUND + 1]:
                if sent == _PER_ROUND or time.monotonic() - started > ROUND_TIME.total_seconds():
                    more = True
                    break
                current, _ = await self._store.get(watch.id)
                if current is None or current.claimed_until != claim.claimed_until:
                    return sent, True  # deleted, or taken over: whoever has it now carries on
                answer = await sender.post(
                    watch.callback_url,
                    delivery.body,
                    watch.secret,
                    delivery_id(watch.id, delivery.key),
                    self._clock.now(),
                )
                metrics.watch_delivery(answer.outcome)
                if answer.outcome != "delivered":
                    break
                await self._store.settle(delivery, "sent", self._clock.now())
                sent, answer = sent + 1, None
            now = self._clock.now()
            outcome = self._outcome(claim, sent, answer, more=more, now=now)
            if await self._record(outcome, etag, claim) and outcome.status == "disabled":
                await self._disabled(outcome, now)
            return sent, answer is None
        except ServiceError as error:
            log.warning("poll_watches: a watch's delivery round stopped (%s)", error.code)
            return 0, False
        except Exception:  # one watch's bad round never stops the others (nor closes their session)
            log.exception("poll_watches: a watch's delivery round failed unexpectedly")
            return 0, False

    async def _record(self, outcome: WatchRecord, etag: str, claim: WatchRecord) -> bool:
        """Save the round's outcome over the claim; whether it was saved. If a poller flagged new changes
        meanwhile (the ETag moved), keep the flag and whatever else changed (a group's members); if the
        watch is no longer ours (deleted, or the lease ran out and another worker took it), leave it."""
        try:
            await self._store.replace(outcome, etag)
            return True
        except Conflict:
            pass
        current, fresh = await self._store.get(outcome.id)
        if current is None or fresh is None or current.claimed_until != claim.claimed_until:
            return False
        merged = replace(
            current,
            **{name: getattr(outcome, name) for name in _DELIVERY_STATE},
            has_pending=outcome.status == "active",
        )
        try:
            await self._store.replace(merged, fresh)
        except Conflict:
            return False  # the lease runs out; the next tick sees the outbox again
        return True

    def _outcome(
        self, watch: WatchRecord, sent: int, answer: Answer | None, *, more: bool, now: datetime
    ) -> WatchRecord:
        delivered = replace(watch, claimed_until=None, delivered=watch.delivered + sent)
        if answer is None:
            return replace(
                delivered, has_pending=more, failures=0, failing_since=None, retry_at=None, last_error=None
            )
        # A round that delivered something before failing shows the receiver alive: the count restarts.
        failures = 1 if sent else watch.failures + 1
        failing_since = now if sent or watch.failing_since is None else watch.failing_since
        error = Failure(
            (CALLBACK_FAILED if answer.outcome == "failed" else CALLBACK_GONE).code, answer.detail, now
        )
        if answer.outcome == "gone" or gives_up(failing_since, now, self._disable_after):
            return replace(
                delivered,
                status="disabled",
                disabled_at=now,
                has_pending=False,
                failing_since=failing_since,
                retry_at=None,
                last_error=error,
                failures=failures,
            )
        wait = retry_delay(failures, answer.retry_after)
        return replace(
            delivered, failures=failures, failing_since=failing_since, retry_at=now + wait, last_error=error
        )

    async def _disabled(self, watch: WatchRecord, now: datetime) -> None:
        """The receiver is gone or has failed too long, and the watch is saved as disabled (so nothing
        sends any more): its undelivered changes are dropped (the daily sweep finishes the job if this is
        cut short), and the watch stays for its owner to see (GET /api/watches/{id}) until
        RETENTION_DAYS."""
        log.warning("poll_watches: a watch was disabled (its callback failed)")
        metrics.watch_disabled()
        await self._store.drop_pending(watch.id, now)
        await self._audit.append(
            now, POLL_CALLER, _subject(watch), "", "watch.disable", CALLBACK_FAILED.code, watch_id=watch.id
        )


def delivery_id(watch_id: str, key: str) -> str:
    return f"{watch_id}.{key}"


async def _gather(calls: Sequence[Awaitable[T]]) -> list[T]:
    return await gather_bounded(calls, _CONCURRENCY)
