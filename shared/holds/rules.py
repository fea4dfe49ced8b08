"""What the service holds for a user, and what must happen to it at `now`: the functional core of the
presence facade and of `renew_sessions`. Pure: the clock comes in, decisions come out."""

# One application has exactly one Graph session per user, so a user's explicit session hold and the
# session that keeps a preferred presence visible share it: the explicit one wins while it lasts.

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from shared.platform.errors import USER_NOT_FOUND
from shared.presence.rules import PREFERRED_MAX, SESSION_MAX, SESSION_MIN

# Graph: an Available session not refreshed fades after 5 minutes; refresh one timer tick before.
FADE_AFTER = timedelta(minutes=5)
FADE_MARGIN = timedelta(minutes=1)
# Renew a session (or preferred presence) this long before Graph would let it lapse: covers a late tick.
EXPIRY_MARGIN = timedelta(minutes=5)
# The session that keeps a preferred presence visible: Away never fades, so it needs the fewest renewals,
# and it ranks lowest, so it never hides the user's own Teams clients once the preferred presence is gone.
KEEP_ALIVE_PAIR = ("Away", "Away")
# A worker that claimed a hold is presumed dead after this long: the Functions host's functionTimeout
# (host.json), which no invocation outlives, even one waiting out Graph's Retry-After.
CLAIM_LEASE = timedelta(minutes=10)
RETRY_BACKOFF_MAX = timedelta(minutes=15)
# The owner of a message put back (or, empty, a message cleared) at a schedule's end: once Graph shows
# it, it is the user's again.
RESTORED = "restored"


def is_occurrence_owner(owner: str) -> bool:
    """Parts a schedule sets are owned by its occurrence (shared.schedules.rules.owner_of)."""
    return "#" in owner


@dataclass(frozen=True)
class SessionHold:
    availability: str
    activity: str
    until: datetime
    owner: str  # "api" or a schedule id
    updated_at: datetime


@dataclass(frozen=True)
class PreferredHold:
    availability: str
    activity: str
    until: datetime
    keep_session_alive: bool
    owner: str
    updated_at: datetime
    graph_expires_at: datetime  # when the preferred presence we set would lapse in Graph


@dataclass(frozen=True)
class MessageHold:
    message: str
    until: datetime | None  # also sent to Graph as the expiry
    owner: str
    updated_at: datetime
    replaced: str | None = None  # the message shown before ours, for a schedule's restorePrevious
    in_graph: bool = True  # False until setStatusMessage succeeded
    # The expiry `replaced` had, when the service set it itself (Graph hides it from apps otherwise).
    replaced_until: datetime | None = None


@dataclass(frozen=True)
class GraphSession:
    """The application session as we last set it in Graph."""

    availability: str
    activity: str
    set_at: datetime
    expires_at: datetime

    def lapses_at(self) -> datetime:
        """When Graph would stop showing it as set: the fade for Available, else its expiry."""
        if self.availability == "Available":
            return min(self.expires_at, self.set_at + FADE_AFTER)
        return self.expires_at


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Hold:
    user_id: str
    user: str  # as the caller last gave it
    session: SessionHold | None = None
    preferred: PreferredHold | None = None
    message: MessageHold | None = None
    graph_session: GraphSession | None = None
    attempts: int = 0
    last_error: Failure | None = None
    claimed_until: datetime | None = None

    @property
    def empty(self) -> bool:
        return not (self.session or self.preferred or self.message or self.graph_session)


# --- actions: what the shell must do in Graph -------------------------------------------------------


@dataclass(frozen=True)
class SetSession:
    availability: str
    activity: str
    expiration: timedelta
    operation: ClassVar[str] = "session.set"  # the audit trail's name for it


@dataclass(frozen=True)
class ClearSession:
    operation: ClassVar[str] = "session.clear"


@dataclass(frozen=True)
class SetPreferred:
    availability: str
    activity: str
    expiration: timedelta
    operation: ClassVar[str] = "preferred.set"


@dataclass(frozen=True)
class ClearPreferred:
    operation: ClassVar[str] = "preferred.clear"


@dataclass(frozen=True)
class SetMessage:
    message: str
    until: datetime | None
    operation: ClassVar[str] = "statusMessage.set"


@dataclass(frozen=True)
class ClearMessage:
    operation: ClassVar[str] = "statusMessage.clear"


Action = SetSession | ClearSession | SetPreferred | ClearPreferred | SetMessage | ClearMessage


def desired_session(hold: Hold, now: datetime) -> tuple[str, str, datetime] | None:
    """The application session Graph should have at `now`: (availability, activity, until), or none."""
    if hold.session and hold.session.until > now:
        return hold.session.availability, hold.session.activity, hold.session.until
    if hold.preferred and hold.preferred.keep_session_alive and hold.preferred.until > now:
        return (*KEEP_ALIVE_PAIR, hold.preferred.until)
    return None


def session_expiration(now: datetime, until: datetime) -> timedelta:
    """Graph's longest session, or exactly what is left (Graph's 5-minute minimum at the very end)."""
    return max(SESSION_MIN, min(SESSION_MAX, _whole_minutes(until - now)))


def preferred_expiration(now: datetime, until: datetime) -> timedelta:
    return max(SESSION_MIN, min(PREFERRED_MAX, _whole_minutes(until - now)))


def _whole_minutes(delta: timedelta) -> timedelta:
    # Graph durations in whole minutes, rounded up so a hold never lapses before its end.
    return timedelta(minutes=-(-int(delta.total_seconds()) // 60))


def session_renew_at(have: GraphSession) -> datetime:
    """When to refresh the session we set: one tick before an Available session fades, otherwise
    EXPIRY_MARGIN before Graph's expiry. The Available refresh falls on the whole minute: one made a
    moment into a tick (its time runs on while it works) would otherwise be due a moment after the tick
    four minutes later, and wait for the one after, which comes as Graph fades it."""
    if have.availability == "Available" and have.set_at + FADE_AFTER < have.expires_at:
        return (have.set_at + FADE_AFTER - FADE_MARGIN).replace(second=0, microsecond=0)
    return have.expires_at - EXPIRY_MARGIN


def plan(hold: Hold, now: datetime) -> list[Action]:
    """The Graph calls that bring Graph in line with `hold` at `now`, in a safe order: a session is set
    before a preferred presence (which shows Offline without one) and cleared after it."""
    first: list[Action] = []
    last: list[Action] = []
    message = hold.message
    if message is not None and not message.in_graph and (message.until is None or message.until > now):
        first.append(SetMessage(message.message, message.until))
    want, have = desired_session(hold, now), hold.graph_session
    if want is not None:
        availability, activity, until = want
        stale = have is None or (have.availability, have.activity) != (availability, activity)
        lapsing = have is not None and session_renew_at(have) <= now and have.lapses_at() < until
        if stale or lapsing or (have is not None and have.expires_at <= now):
            first.append(SetSession(availability, activity, session_expiration(now, until)))
    elif have is not None:
        # Cleared explicitly even when it should just have lapsed: our clock and Graph's may differ.
        last.append(ClearSession())
    preferred = hold.preferred
    if preferred is not None:
        if preferred.until <= now:
            first.append(ClearPreferred())
        elif (
            preferred.graph_expires_at < preferred.until and preferred.graph_expires_at - EXPIRY_MARGIN <= now
        ):
            first.append(
                SetPreferred(
                    preferred.availability, preferred.activity, preferred_expiration(now, preferred.until)
                )
            )
    return first + last


def applied(hold: Hold, action: Action, now: datetime) -> Hold:
    """The hold after `action` succeeded in Graph at `now`."""
    match action:
        case SetSession(availability, activity, expiration):
            return replace(hold, graph_session=GraphSession(availability, activity, now, now + expiration))
        case ClearSession():
            return replace(hold, graph_session=None)
        case SetPreferred(_, _, expiration):
            assert hold.preferred is not None
            return replace(hold, preferred=replace(hold.preferred, graph_expires_at=now + expiration))
        case ClearPreferred():
            return replace(hold, preferred=None)
        case SetMessage():
            assert hold.message is not None
            return replace(hold, message=replace(hold.message, in_graph=True))
        case ClearMessage():
            return replace(hold, message=None)


def tidy(hold: Hold, now: datetime) -> Hold:
    """Forget what has ended and needs no Graph call: a session hold past its end (its Graph session is
    cleared by `plan`) and a status message past its expiry (Graph expires it itself). An occurrence's
    message stays until its schedule ends it: what it replaced is still to be put back then."""
    message = hold.message
    if message is not None and message.owner == RESTORED and message.in_graph and message.until is None:
        message = None  # one put back with its expiry is remembered until then, like any the service set
    if message is not None and message.until is not None and message.until <= now:
        message = message if is_occurrence_owner(message.owner) else None
    return replace(
        hold,
        session=hold.session if hold.session and hold.session.until > now else None,
        message=message,
    )


def next_due(hold: Hold, now: datetime) -> datetime | None:
    """The next moment `plan` or `tidy` will have something to do for this hold (None: never)."""
    moments: list[datetime] = []
    if hold.session is not None:
        moments.append(hold.session.until)
    message = hold.message
    if message is not None and message.until is not None and not is_occurrence_owner(message.owner):
        moments.append(message.until)  # tidied then (an occurrence's is the schedule's to end)
    preferred = hold.preferred
    if preferred is not None:
        moments.append(preferred.until)
        if preferred.graph_expires_at < preferred.until:
            moments.append(preferred.graph_expires_at - EXPIRY_MARGIN)
    want, have = desired_session(hold, now), hold.graph_session
    if have is not None:
        moments.append(have.expires_at)
        if want is not None and have.lapses_at() < want[2]:
            moments.append(session_renew_at(have))
    if plan(hold, now):
        moments.append(now)
    if not moments:
        return None
    due = min(moments)
    if hold.last_error is not None:
        due = max(due, hold.last_error.at + retry_delay(hold.attempts))
    return due


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after a failed attempt, at most 15."""
    return min(RETRY_BACKOFF_MAX, timedelta(minutes=2 ** max(0, attempts - 1)))


# --- callers' changes --------------------------------------------------------------------------------------


Part = Literal["session", "preferred", "message"]
_PART_OF: dict[type, Part] = {
    SetPreferred: "preferred",
    ClearPreferred: "preferred",
    SetMessage: "message",
    ClearMessage: "message",
}


def changes(
    current: Hold, wanted: Hold, now: datetime, *, release: Part | None = None, ending: bool = False
) -> list[Action]:
    """The Graph calls a caller's change needs: what `wanted` plans beyond what `current` already did
    (renewals that happen to be due are the timer's). `release`: the caller asked to clear that part,
    so clear it in Graph even if our records do not show it there (the user may have set it, or a record
    was lost), but never the session a preferred presence still keeps alive. `ending`: a schedule's
    step, which takes the clears and the one application session that are due at its tick too (its end
    is due exactly then: left to `renew_sessions`, what it ends would show a tick longer)."""
    due_anyway = plan(current, now)
    if ending:
        due_anyway = [a for a in due_anyway if not isinstance(a, SetSession | ClearSession | ClearPreferred)]
    actions = [a for a in plan(wanted, now) if a not in due_anyway]
    if release == "session" and desired_session(wanted, now) is None and ClearSession() not in actions:
        actions.append(ClearSession())
    if release == "preferred" and ClearPreferred() not in actions:
        actions.insert(0, ClearPreferred())
    if release == "message":
        actions.insert(0, ClearMessage())
    return actions


def undo_change(current: Hold, outcome: Hold, done: list[Action]) -> Hold:
    """After Graph refused part of a caller's change: the caller's intent is dropped, but what Graph did
    meanwhile is kept, so records and Graph agree and the next tick can repair the rest."""
    touched = {_PART_OF[type(a)] for a in done if type(a) in _PART_OF}
    return replace(
        outcome,
        session=current.session,
        preferred=outcome.preferred if "preferred" in touched else current.preferred,
        message=outcome.message if "message" in touched else current.message,
        attempts=current.attempts,
        last_error=current.last_error,
    )


def give_up(hold: Hold, error_code: str, now: datetime, max_attempts: int) -> bool:
    """Stop trying: the user is gone from the directory, or MAX_ATTEMPTS failed and nothing the hold
    promised is still running (only clean-up was left)."""
    if error_code == USER_NOT_FOUND.code:
        return True
    if hold.attempts < max_attempts:
        return False
    promised = [p.until for p in (hold.session, hold.preferred) if p is not None]
    return all(until <= now for until in promised)
