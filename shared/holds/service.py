"""The presence facade's imperative shell: load a hold, ask the core (shared/holds/rules.py) what to do, claim
the row by ETag, call Graph, record the outcome and the next due time, audit every change. Used by the
presence routes and by the `renew_sessions` timer alike."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from shared.api.models import (
    Holds,
    HoldWindow,
    LastError,
    Preferred,
    PreferredRequest,
    Session,
    SessionRequest,
    StatusMessage,
    StatusMessageRequest,
)
from shared.audit.store import AuditLog
from shared.directory.ids import parse_user
from shared.directory.service import UserDirectory
from shared.holds.rules import (
    CLAIM_LEASE,
    Action,
    ClearMessage,
    ClearPreferred,
    ClearSession,
    Failure,
    Hold,
    MessageHold,
    Part,
    PreferredHold,
    SessionHold,
    SetMessage,
    SetPreferred,
    SetSession,
    applied,
    changes,
    give_up,
    next_due,
    plan,
    tidy,
    undo_change,
)
from shared.holds.store import HoldStore
from shared.platform import metrics
from shared.platform.budget import Priority, is_budget_exhausted
from shared.platform.clock import Clock
from shared.platform.errors import HOLD_BUSY, ServiceError
from shared.platform.graph import PresenceGateway
from shared.platform.tables import Conflict
from shared.platform.ticking import drain_due
from shared.platform.timeline import DueEntry
from shared.platform.timezones import resolve_zone
from shared.presence.rules import check_message, check_pair, hold_end

log = logging.getLogger(__name__)

TIMER_CALLER = "timer:renew_sessions"
_CAS_ATTEMPTS = 3


class HoldService:
    def __init__(
        self,
        holds: HoldStore,
        audit: AuditLog,
        gateway: PresenceGateway,
        directory: UserDirectory,
        clock: Clock,
        session_id: Callable[[], Awaitable[str]],
        *,
        max_hold_days: int,
        max_attempts: int,
        concurrency: int,
        tick_time_limit: float = 240,
    ) -> None:
        self.store = holds
        self._audit = audit
        self._gateway = gateway
        self._directory = directory
        self._clock = clock
        self._session_id = session_id
        self._max_days = max_hold_days
        self._max_attempts = max_attempts
        self._concurrency = concurrency
        self._tick_time_limit = tick_time_limit

    # --- the routes --------------------------------------------------------------------------------------

    async def hold_session(self, caller: str, user: str, body: SessionRequest) -> Session:
        ref = parse_user(user)
        check_pair("session", body.availability, body.activity)
        now = self._clock.now()
        until = self._hold_end(now, body)
        user_id = await self._directory.resolve(ref)
        part = SessionHold(body.availability, body.activity, until, "api", now)
        hold = await self._change(
            caller, user_id, ref.given, "session.set", lambda h: replace(h, session=part)
        )
        return session_view(hold)

    async def release_session(self, caller: str, user: str) -> None:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        await self._change(
            caller, user_id, ref.given, "session.clear", lambda h: replace(h, session=None), release="session"
        )

    async def hold_preferred(self, caller: str, user: str, body: PreferredRequest) -> Preferred:
        ref = parse_user(user)
        check_pair("preferred", body.availability, body.activity)
        now = self._clock.now()
        until = self._hold_end(now, body)
        user_id = await self._directory.resolve(ref)
        # graph_expires_at=now: not in Graph yet, so the plan sets it now.
        part = PreferredHold(
            body.availability, body.activity, until, body.keep_session_alive, "api", now, now
        )
        hold = await self._change(
            caller, user_id, ref.given, "preferred.set", lambda h: replace(h, preferred=part)
        )
        view = preferred_view(hold)
        assert view is not None
        return view

    async def release_preferred(self, caller: str, user: str) -> None:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        now = self._clock.now()

        def end(h: Hold) -> Hold:
            # Ending it now makes the plan clear it, and the session kept alive for it.
            return replace(h, preferred=replace(h.preferred, until=now)) if h.preferred else h

        await self._change(caller, user_id, ref.given, "preferred.clear", end, release="preferred")

    async def set_message(self, caller: str, user: str, body: StatusMessageRequest) -> StatusMessage:
        ref = parse_user(user)
        message = check_message(body.message)
        now = self._clock.now()
        if body.time_zone is not None:
            resolve_zone(body.time_zone)
        until = None
        if body.until is not None:
            until = hold_end(
                now,
                duration_minutes=None,
                until=body.until,
                time_zone=body.time_zone,
                max_days=self._max_days,
            )
        user_id = await self._directory.resolve(ref)
        part = MessageHold(message, until, "api", now, in_graph=False)
        hold = await self._change(
            caller, user_id, ref.given, "statusMessage.set", lambda h: replace(h, message=part)
        )
        assert hold.message is not None
        return message_view(hold, hold.message)

    async def clear_message(self, caller: str, user: str) -> None:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        # Graph has no clear call: an empty message clears whatever is shown, ours or the user's.
        await self._change(
            caller,
            user_id,
            ref.given,
            "statusMessage.clear",
            lambda h: replace(h, message=None),
            release="message",
        )

    async def holds(self, user: str) -> Holds:
        ref = parse_user(user)
        user_id = await self._directory.resolve(ref)
        hold, _ = await self.store.get(user_id)
        hold = hold or Hold(user_id, ref.given)
        error = hold.last_error
        return Holds(
            user=ref.given,
            user_id=user_id,
            session=session_view(hold) if hold.session else None,
            preferred=preferred_view(hold),
            status_message=message_view(hold, hold.message) if hold.message else None,
            last_error=LastError(code=error.code, message=error.message, at=error.at) if error else None,
            attempts=hold.attempts,
        )

    async def owned_by(self, user_id: str, owner: str) -> bool:
        """Whether any part of the user's hold is `owner`'s."""
        hold, _ = await self.store.get(user_id)
        parts = (hold.session, hold.preferred, hold.message) if hold else ()
        return any(part is not None and part.owner == owner for part in parts)

    async def messages(self, user_ids: list[str]) -> dict[str, MessageHold]:
        return await self.store.messages(user_ids)

    def _hold_end(self, now: datetime, body: HoldWindow) -> datetime:
        until = hold_end(
            now,
            duration_minutes=body.duration_minutes,
            until=body.until,
            time_zone=body.time_zone,
            max_days=self._max_days,
        )
        assert until is not None  # a session or preferred hold always ends (60 minutes by default)
        return until

    # --- the timer ---------------------------------------------------------------------------------------

    async def renew_due(self) -> int:
        """One tick of `renew_sessions`: act on every hold that is due, GRAPH_CONCURRENCY at a time (a hold
        is claimed only when its turn comes), first in the Graph budget, until none is due or the tick's
        time is up. Returns how many were acted on."""

        async def renew(entry: DueEntry) -> int:
            return int(await self._renew(entry, self._clock.now()))

        return await drain_due(
            self.store.timeline,
            "hold",
            self._clock,
            renew,
            priority=Priority.KEEP,
            concurrency=self._concurrency,
            time_limit=self._tick_time_limit,
        )

    async def _renew(self, entry: DueEntry, now: datetime) -> bool:
        try:
            hold, etag = await self.store.get(entry.ref)
            if hold is None:
                await self.store.timeline.remove(entry)
                return False
            if hold.claimed_until is not None and hold.claimed_until > now:
                return False  # another worker has it; its lease entry brings it back if that worker dies
            due = next_due(hold, now)
            if due is None or due > now:  # a stale entry: the hold is indexed at its real due time
                await self.store.timeline.move(entry, due, "hold", hold.user_id)
                return False
            taken_over = hold.claimed_until is not None  # its last worker died holding it
            metrics.hold_due(now - due)
            claim_etag = await self._claim(hold, etag, now)
            actions = plan(hold, now)
            if taken_over:
                hold, actions = await self._already_shown(hold, actions, now)
            outcome, done, failures = await self._apply(hold, actions, now, stop_at_failure=False)
            for action, request_id in done:
                metrics.renewal_done(action.operation)
                await self._audit.append(
                    now, TIMER_CALLER, hold.user, hold.user_id, action.operation, "ok", request_id
                )
            for action, error in failures:
                metrics.renewal_failed(action.operation, error.code)
                await self._audit.append(
                    now, TIMER_CALLER, hold.user, hold.user_id, action.operation, error.code
                )
            if failures and give_up(outcome, failures[0][1].code, now, self._max_attempts):
                log.warning(
                    "a hold was given up after %d attempts (%s)", outcome.attempts, failures[0][1].code
                )
                await self._audit.append(
                    now, TIMER_CALLER, hold.user, hold.user_id, "hold.giveUp", failures[0][1].code
                )
                outcome = Hold(hold.user_id, hold.user)
                metrics.hold_given_up(failures[0][1].code)
            await self._release(outcome, claim_etag, now, entry)
            return True
        except Conflict:
            return False  # somebody else acted on it first; the entry stays due for whoever is next
        except ServiceError as error:  # storage trouble: this hold waits for the next tick, others go on
            log.warning("renewal of a hold skipped: %s", error.code)
            return False
        except Exception:  # one bad hold never stops the tick; its entry stays due and is retried
            log.exception("renewal of a hold failed unexpectedly")
            return False

    async def _already_shown(
        self, hold: Hold, actions: list[Action], now: datetime
    ) -> tuple[Hold, list[Action]]:
        """A worker that died after Graph took its status message, but before recording it, must not
        have it sent twice: if Graph already shows the message, record it as set instead."""
        pending = [a for a in actions if isinstance(a, SetMessage)]
        if not pending:
            return hold, actions
        shown = (await self._gateway.presence(hold.user_id)).status_message
        for action in pending:
            if action.message == shown:
                hold = applied(hold, action, now)
                actions = [a for a in actions if a is not action]
        return hold, actions

    # --- the shell ---------------------------------------------------------------------------------------

    async def apply_schedule(
        self,
        caller: str,
        user_id: str,
        user: str,
        operation: str,
        change: Callable[[Hold], Hold] | Callable[[Hold], Awaitable[Hold]],
        schedule_id: str,
    ) -> Hold:
        """A schedule's start or end, applied like a caller's change (claim, Graph, record, audit). An
        async `change` may read more state: it is redone whenever the hold changed under it."""
        return await self._change(
            caller, user_id, user, operation, change, schedule_id=schedule_id, ending=True
        )

    async def _change(
        self,
        caller: str,
        user_id: str,
        user: str,
        operation: str,
        change: Callable[[Hold], Hold] | Callable[[Hold], Awaitable[Hold]],
        release: Part | None = None,
        schedule_id: str | None = None,
        ending: bool = False,
    ) -> Hold:
        """Apply a caller's change: the new intent is claimed (so a crash is finished by the timer), the
        Graph calls the change needs are made, the outcome saved. If Graph refuses, the caller's intent is
        dropped, what Graph did meanwhile is kept, and Graph's error is the answer."""
        for _ in range(_CAS_ATTEMPTS):  # compare-and-swap: on an ETag conflict, read again and redo
            now = self._clock.now()
            current, etag = await self.store.get(user_id)
            current = current or Hold(user_id, user)
            if current.claimed_until is not None and current.claimed_until > now:
                raise _hold_busy()
            changed = change(current)
            wanted = replace(await changed if inspect.isawaitable(changed) else changed, user=user)
            if current.claimed_until is not None:  # its last worker died holding it: see what Graph took
                wanted, _ = await self._already_shown(wanted, plan(wanted, now), now)
            actions = changes(current, wanted, now, release=release, ending=ending)
            try:
                claim_etag = await self._claim(wanted, etag, now)
            except Conflict:
                continue
            outcome, done, failures = await self._apply(wanted, actions, now, stop_at_failure=True)
            request_ids = " ".join(r for _, r in done if r)
            if failures:
                error = failures[0][1]
                await self._release(undo_change(current, outcome, [a for a, _ in done]), claim_etag, now)
                await self._audit.append(
                    now, caller, user, user_id, operation, error.code, request_ids, schedule_id
                )
                raise error
            await self._release(outcome, claim_etag, now)
            await self._audit.append(now, caller, user, user_id, operation, "ok", request_ids, schedule_id)
            return outcome
        raise _hold_busy()

    async def _claim(self, hold: Hold, etag: str | None, now: datetime) -> str:
        """Mark the row as ours for CLAIM_LEASE (ETag compare-and-swap) before any Graph call, and index it
        as due when the lease ends, so a worker that dies mid-way is taken over, not forgotten."""
        claimed = await self.store.save(
            replace(hold, claimed_until=now + CLAIM_LEASE), etag, now + CLAIM_LEASE
        )
        assert claimed is not None
        return claimed

    async def _release(
        self, hold: Hold, claim_etag: str, now: datetime, entry: DueEntry | None = None
    ) -> None:
        """Save the outcome, end the claim, and index the hold at its next due time instead of the lease's
        (and instead of the entry this tick acted on)."""
        final = replace(tidy(hold, now), claimed_until=None)
        due = next_due(final, now)
        try:
            await self.store.save(final, claim_etag, due)
        except Conflict:
            # Our lease ran out and another worker took over from the claimed intent: its record wins.
            log.warning("a hold's lease ran out before its outcome was saved")
            return
        lease = self.store.timeline.entry(now + CLAIM_LEASE, "hold", hold.user_id)
        for old in (lease, entry):
            if old is not None:
                await self.store.timeline.move(old, due, "hold", hold.user_id, written=True)

    async def _apply(
        self, hold: Hold, actions: list[Action], now: datetime, *, stop_at_failure: bool
    ) -> tuple[Hold, list[tuple[Action, str | None]], list[tuple[Action, ServiceError]]]:
        """Run the actions in order. A caller's change stops at the first failure (an error answer means
        the rest was not done); the timer goes on with the others (a failing renewal must not keep a
        preferred presence from ending). Failures are recorded on the hold. Returns the hold as Graph now
        has it, the actions done with Graph's request ids, and the failures."""
        done: list[tuple[Action, str | None]] = []
        failures: list[tuple[Action, ServiceError]] = []
        interrupted = False
        for action in actions:
            try:
                session_id = await self._session_id() if isinstance(action, SetSession | ClearSession) else ""
                request_id = await self._call(hold.user_id, session_id, action)
            except ServiceError as error:
                if not stop_at_failure and is_budget_exhausted(error):
                    interrupted = True  # the tick's time is up: not the hold's failure; the rest stays due
                    break
                failures.append((action, error))
                if stop_at_failure:
                    break
                continue
            hold = applied(hold, action, now)
            done.append((action, request_id))
        if failures:
            error = failures[0][1]
            return (
                replace(hold, attempts=hold.attempts + 1, last_error=Failure(error.code, error.detail, now)),
                done,
                failures,
            )
        if interrupted:
            return hold, done, failures
        return replace(hold, attempts=0, last_error=None), done, failures

    async def _call(self, user_id: str, session_id: str, action: Action) -> str | None:
        match action:
            case SetSession(availability, activity, expiration):
                return await self._gateway.set_session(
                    user_id, session_id, availability, activity, expiration
                )
            case ClearSession():
                return await self._gateway.clear_session(user_id, session_id)
            case SetPreferred(availability, activity, expiration):
                return await self._gateway.set_preferred(user_id, availability, activity, expiration)
            case ClearPreferred():
                return await self._gateway.clear_preferred(user_id)
            case SetMessage(message, until):
                return await self._gateway.set_status_message(user_id, message, until)
            case ClearMessage():
                return await self._gateway.set_status_message(
                    user_id, "", None
                )  # Graph: empty content clears


def _hold_busy() -> ServiceError:
    return HOLD_BUSY("The user's presence is being changed right now; retry shortly.", retry_after=2)


def session_view(hold: Hold) -> Session:
    assert hold.session is not None
    s, g = hold.session, hold.graph_session
    graph_expires = g.expires_at if g else None
    return Session(
        user=hold.user,
        user_id=hold.user_id,
        availability=s.availability,
        activity=s.activity,
        until=s.until,
        renews_until=s.until if graph_expires is None or graph_expires < s.until else None,
        graph_expires_at=graph_expires,
        updated_at=s.updated_at,
    )


def preferred_view(hold: Hold) -> Preferred | None:
    p = hold.preferred
    if p is None:
        return None
    return Preferred(
        user=hold.user,
        user_id=hold.user_id,
        availability=p.availability,
        activity=p.activity,
        until=p.until,
        renews_until=p.until if p.graph_expires_at < p.until else None,
        graph_expires_at=p.graph_expires_at,
        updated_at=p.updated_at,
        keep_session_alive=p.keep_session_alive,
    )


def message_view(hold: Hold, m: MessageHold) -> StatusMessage:
    return StatusMessage(
        user=hold.user, user_id=hold.user_id, message=m.message, until=m.until, updated_at=m.updated_at
    )
