"""apply_schedules against a model, property-based (Azurite + the emulator, both clocks frozen together).

1. Any interleaving of creates, ticks (either timer first, two overlapping, or none: downtime), cancels,
   PATCHes, Graph failures, restarts and the user's own messages, for one schedule at a time per user,
   ends where a small reference model says: every setStatusMessage/setPresence the service sends, with
   Graph's answer, call for call; each schedule's status after every tick; the message left shown.
2. One user's stacked one-offs hand over and restore as shared/schedules/rules.py documents.

The model is written from api.md and design.md (catch up, back off, restore what was shown unless the
user changed it); it borrows only `occurrences` (tested on its own) and the ISO duration format. The places
where the engine once departed from it are kept at the end as regression tests, each on its smallest
script."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from localdev.graph import EmulatorControl
from localdev.graph.demo import ALICE_ID, BOB_ID
from shared.api.models import PresencePair, ScheduleFields, ScheduleInput
from shared.app import Services, build_services
from shared.platform.clock import Clock
from shared.platform.durations import iso_duration
from shared.platform.errors import ServiceError
from shared.schedules.recurrence import Occurrence, occurrences, parse_series
from tests.integration.conftest import settings_for

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday
USERS = (ALICE_ID, BOB_ID)
# Session pairs that never fade (an Available session is refreshed every few minutes: calls the model
# would have to predict for no gain).
PAIRS = (("DoNotDisturb", "Presenting"), ("Busy", "InACall"), ("Busy", "InAConferenceCall"), ("Away", "Away"))
MAX_ATTEMPTS = 5  # design.md: after MAX_ATTEMPTS failed steps the schedule is failed (the default)
SET_MESSAGE, SET_PRESENCE = "setStatusMessage", "setPresence"

# --- the steps a script is made of -------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    user: int
    start: int  # minutes after now
    length: int  # minutes
    recurrence: str | None
    parts: str  # "message", "presence" or "both"
    pair: int
    restore: bool


# How the timers run at a moment: "engine" (apply_schedules, then renew_sessions), "renew" (the other way
# round: both fire every minute, in no set order), "twice" (two apply_schedules overlapping, then
# renew_sessions), or None (the host is down: nobody ticks).
Ticking = str | None


@dataclass(frozen=True)
class Wait:
    minutes: int
    ticking: Ticking


@dataclass(frozen=True)
class Until:
    """Move to the next moment something is due (a start, an end, a retry), `late` minutes after it."""

    late: int
    ticking: Ticking


@dataclass(frozen=True)
class Cancel:
    which: int  # among the running schedules if any, else among all


@dataclass(frozen=True)
class Patch:
    which: int
    start: int
    length: int
    restore: bool


@dataclass(frozen=True)
class Fault:
    """Graph answers `status` to the next `count` calls of `action` for this user."""

    user: int
    action: str
    status: int
    count: int


@dataclass(frozen=True)
class Restart:
    """The host restarts: everything in memory is rebuilt, the tables are the state."""


@dataclass(frozen=True)
class UserSets:
    """The user sets a message of their own in Teams (through /me)."""

    user: int


Step = Create | Wait | Until | Cancel | Patch | Fault | Restart | UserSets

creates = st.builds(
    Create,
    user=st.integers(0, len(USERS) - 1),
    start=st.integers(1, 12).map(lambda n: n * 15),
    length=st.sampled_from([15, 30, 45, 60, 90]),
    recurrence=st.sampled_from([None, None, "FREQ=DAILY;COUNT=2", "FREQ=DAILY;COUNT=3"]),
    parts=st.sampled_from(["message", "presence", "both"]),
    pair=st.integers(0, len(PAIRS) - 1),
    restore=st.booleans(),
)
tickings = st.sampled_from(["engine", "engine", "engine", "renew", "twice", None])


def faults_of(status: int, counts: list[int]) -> st.SearchStrategy[Fault]:
    users, actions = st.integers(0, len(USERS) - 1), st.sampled_from([SET_MESSAGE, SET_MESSAGE, SET_PRESENCE])
    return st.builds(Fault, users, actions, st.just(status), st.sampled_from(counts))


# A round: something happens (or not), then time passes and the timers tick (or not).
rounds = st.tuples(
    st.one_of(
        st.none(),
        creates,
        st.builds(Cancel, st.integers(0, 3)),
        st.builds(
            Patch, st.integers(0, 3), st.sampled_from([15, 60, 120]), st.sampled_from([15, 60]), st.booleans()
        ),
        # 500 is not retried by the SDK (8 in a row make a schedule fail); 503 is, up to three times, each
        # after Retry-After (1 s of real time, so it is rare and once).
        faults_of(500, [1, 1, 2, 3, 5, 8]),
        faults_of(500, [1, 2]),
        faults_of(503, [1]),
        st.just(Restart()),
        st.builds(UserSets, st.integers(0, len(USERS) - 1)),
    ),
    st.one_of(
        st.builds(Until, st.sampled_from([0, 0, 0, 1, 3]), tickings),
        st.builds(Until, st.sampled_from([0, 0, 0, 1, 3]), tickings),
        st.builds(Until, st.sampled_from([0, 0, 0, 1, 3]), tickings),
        st.builds(Wait, st.sampled_from([1, 2, 5, 15, 30, 60, 120, 1440]), tickings),
    ),
)


def script_of(notes: list[int], first: list[Create], more: list[tuple[Step | None, Step]]) -> list[Step]:
    """Users who have a message of their own, the first schedules, then rounds."""
    return [*map(UserSets, notes), *first, *(step for pair in more for step in pair if step is not None)]


scripts = st.builds(
    script_of,
    st.lists(st.integers(0, len(USERS) - 1), unique=True),
    st.lists(creates, min_size=1, max_size=3),
    st.lists(rounds, min_size=3, max_size=14),
)


# --- the model ---------------------------------------------------------------------------------------


def event(name: str) -> None:
    """Counted in hypothesis' statistics (--hypothesis-show-statistics); nothing outside a @given test."""
    with suppress(InvalidArgument):
        hypothesis_event(name)


def retry_delay(attempts: int) -> timedelta:
    """design.md: a failed step is retried on later ticks with back-off: 1, 2, 4, 8 minutes."""
    return timedelta(minutes=min(15, 2 ** (attempts - 1)))


def session_expiration(now: datetime, end: datetime) -> str:
    """setPresence's expirationDuration: what is left of the occurrence, 5 minutes to 4 hours."""
    minutes = -(-int((end - now).total_seconds()) // 60)
    return iso_duration(timedelta(minutes=max(5, min(240, minutes))))


def wall(instant: datetime) -> str:
    """An instant as Graph's dateTime in UTC, as the service sends an expiry (and as schedules take times)."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


Call = tuple[str, tuple[str | None, ...], str]  # (action, body, "ok" or the status Graph answered)


@dataclass
class Planned:
    """One schedule as the model sees it (after a PATCH: its new version)."""

    user: str
    message: str | None
    pair: tuple[str, str] | None
    restore: bool
    recurrence: str | None
    occurrences: list[Occurrence]
    status: str = "scheduled"
    patched: bool = False
    done: int = -1  # every occurrence up to this index is over (ended or skipped)
    running: Occurrence | None = None
    attempts: int = 0
    due: datetime | None = None  # when a tick next has something to do for it
    written: dict[int, set[str]] = field(default_factory=dict)  # the parts in Graph, per occurrence
    replaced: dict[int, str | None] = field(default_factory=dict)  # the message each occurrence replaced

    @property
    def settled(self) -> bool:
        return self.status in {"completed", "cancelled"} and not any(self.written.values())


class Model:
    def __init__(self) -> None:
        self.schedules: list[Planned] = []
        self.shown: dict[str, tuple[str, datetime | None] | None] = dict.fromkeys(USERS)  # (message, expiry)
        self.faults: dict[tuple[str, str], list[list[int]]] = defaultdict(list)  # [status, calls left]
        self.calls: dict[str, list[Call]] = defaultdict(list)

    def message_shown(self, user: str, now: datetime) -> str | None:
        shown = self.shown[user]
        if shown is None or (shown[1] is not None and shown[1] <= now):
            return None
        return shown[0] or None

    def write(self, user: str, action: str, body: tuple[str | None, ...]) -> bool:
        """One write through the SDK, which retries a 503 three times; True when Graph took it."""
        rules = self.faults[(user, action)]
        for attempt in range(4):
            rule = next((r for r in rules if r[1] > 0), None)
            if rule is None:
                self.calls[user].append((action, body, "ok"))
                return True
            rule[1] -= 1
            self.calls[user].append((action, body, str(rule[0])))
            if rule[0] != 503 or attempt == 3:
                return False
        raise AssertionError("unreachable")

    # the API

    def create(self, planned: Planned, now: datetime) -> None:
        self.schedules.append(planned)
        self._index(planned, now)

    def _index(self, planned: Planned, now: datetime) -> None:
        first = next(o for o in planned.occurrences if o.end > now)
        planned.due = max(first.start, now)  # one running already is started by the next tick

    def cancel(self, planned: Planned, now: datetime) -> None:
        if planned.status in {"cancelled", "completed", "failed"}:
            return
        if planned.status == "active" or any(planned.written.values()):
            planned.due = now  # api.md: an active schedule is reverted first
        planned.status = "cancelled"

    def patch(self, planned: Planned, changed: Planned, now: datetime) -> bool:
        """Whether the PATCH is accepted (api.md: not while active, nor once finished; a start that failed
        half-way counts as active: what it wrote is undone by a cancel, or by the end of its occurrence; once
        the schedule failed for good, what it wrote is left to Graph's expiry and it may be changed)."""
        if planned.status in {"active", "cancelled", "completed"}:
            return False
        if planned.status != "failed" and any(planned.written.values()):
            return False
        planned.__dict__.update(changed.__dict__)  # the new version, from scratch (status, attempts...)
        planned.patched = True
        self._index(planned, now)
        return True

    # the timer

    def tick(self, now: datetime, ticking: Ticking) -> None:
        if ticking is None:
            return
        for planned in self.schedules:
            if planned.due is not None and planned.due <= now:
                self._catch_up(planned, now, renew_first=ticking == "renew")

    def _catch_up(self, p: Planned, now: datetime, *, renew_first: bool) -> None:
        """design.md: end what should have ended, skip (never start) what passed unseen, start what runs
        now; a failed step is retried with back-off, and after MAX_ATTEMPTS the schedule is failed."""
        if p.status == "cancelled":  # api.md: what it shows is reverted
            for occurrence in p.occurrences:
                if p.written.get(occurrence.index):
                    event("cancelled while running")
                    if not self._end(p, occurrence, now, renew_first=renew_first):
                        return self._failed(p, now)
            p.running, p.due = None, None
            return None
        if p.status in {"completed", "failed"}:
            p.due = None
            return None
        while True:
            if p.running is not None:
                if p.running.end > now:
                    break
                if not self._end(p, p.running, now, renew_first=renew_first):
                    return self._failed(p, now)
                self._done(p, p.running.index, None)
                continue
            pending = [o for o in p.occurrences if o.index > p.done]
            passed = [o for o in pending if o.end <= now]
            if passed:
                event("skipped")
                for occurrence in passed:
                    if p.written.get(occurrence.index):  # what a failed start left in Graph ends all the same
                        event("a half-started occurrence ended")
                        if not self._end(p, occurrence, now, renew_first=renew_first):
                            return self._failed(p, now)
                self._done(p, passed[-1].index, None)
                continue
            current = next((o for o in pending if o.start <= now), None)
            if current is None:
                break
            if not self._start(p, current, now):
                return self._failed(p, now)
            self._done(p, p.done, current)
        pending = [o for o in p.occurrences if o.index > p.done]
        p.due = p.running.end if p.running is not None else pending[0].start if pending else None
        return None

    @staticmethod
    def _done(p: Planned, done: int, running: Occurrence | None) -> None:
        """A step was carried out: the schedule records it, and its status, at once."""
        p.done, p.running, p.attempts = done, running, 0
        if running is not None:
            p.status = "active"
        else:
            p.status = "scheduled" if any(o.index > done for o in p.occurrences) else "completed"

    def _failed(self, p: Planned, now: datetime) -> None:
        p.attempts += 1
        event("a step failed")
        if p.attempts >= MAX_ATTEMPTS:
            event("a schedule failed")
            p.status, p.due = "failed", None
        else:
            p.due = now + retry_delay(p.attempts)

    def _start(self, p: Planned, occurrence: Occurrence, now: datetime) -> bool:
        """Each part is written once: a retry sends only what Graph refused."""
        event("started" if now == occurrence.start else "started late")
        written = p.written.setdefault(occurrence.index, set())
        shown = self.message_shown(p.user, now)
        if p.message is not None and "message" not in written:
            if not self.write(p.user, SET_MESSAGE, (p.message, wall(occurrence.end))):
                return False
            written.add("message")
            p.replaced[occurrence.index] = shown
            self.shown[p.user] = (p.message, occurrence.end)
        if p.pair is not None and "presence" not in written:
            if not self.write(p.user, SET_PRESENCE, (*p.pair, session_expiration(now, occurrence.end))):
                event("a start failed half-way" if written else "a start failed")
                return False
            written.add("presence")
        return True

    def _end(self, p: Planned, occurrence: Occurrence, now: datetime, *, renew_first: bool) -> bool:
        """api.md, restorePrevious: put back what was shown at the start, unless the user set a different
        message meanwhile; ours counts as still shown when its expiry passed. A cancelled occurrence (its end
        still ahead) is reverted: its message goes."""
        event("reverted on cancel" if now < occurrence.end else "ended")
        written = p.written.get(occurrence.index, set())
        if "message" in written:
            shown = self.message_shown(p.user, now)
            if shown == p.message or (shown is None and occurrence.end <= now):
                previous = p.replaced[occurrence.index]
                put_back = previous if p.restore and previous else ("" if occurrence.end > now else None)
                if put_back is not None:
                    if renew_first and occurrence.end <= now:
                        event("restored after renew_sessions ran")
                    event("restored" if put_back else "cleared")
                    if not self.write(p.user, SET_MESSAGE, (put_back, None)):
                        return False
                    self.shown[p.user] = (put_back, None) if put_back else None
            else:
                event("the user changed the message meanwhile")
            written.discard("message")
        written.discard("presence")  # clearPresence is neither faulted nor compared
        return True


# --- the harness -------------------------------------------------------------------------------------


class Run:
    def __init__(self, azurite, emulator_url: str, graph: EmulatorControl) -> None:
        self.settings = settings_for(azurite, emulator_url)  # fresh tables for this example
        assert self.settings.max_attempts == MAX_ATTEMPTS
        self.graph = graph
        self.clock = Clock()
        self.clock.set_now(T0, frozen=True)
        self.services: Services = build_services(self.settings, self.clock)
        self.model = Model()
        self.ids: list[str] = []  # schedule ids, in the model's order
        self.names = itertools.count(1)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    async def close(self) -> None:
        await self.services.tables.close()

    async def travel(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.graph.set_clock(self.now, frozen=True)

    async def tick(self, ticking: Ticking) -> None:
        """The model's tick, then the service's, then the comparison."""
        self.model.tick(self.now, ticking)
        engine, holding = self.services.engine, self.services.holds
        if ticking == "engine":
            await engine.tick()
            await holding.renew_due()
        elif ticking == "renew":
            await holding.renew_due()
            await engine.tick()
        elif ticking == "twice":
            await asyncio.gather(engine.tick(), engine.tick())
            await holding.renew_due()
        else:
            return
        await self.check()

    def planned(
        self, user: str, start: int, length: int, message: bool, pair, restore: bool, rule
    ) -> Planned:
        begin = self.now.replace(second=0, microsecond=0) + timedelta(minutes=start)
        end = begin + timedelta(minutes=length)
        series = list(occurrences(parse_series(wall(begin), wall(end), "UTC", rule, None)))
        text = f"Schedule {next(self.names)}" if message else None
        return Planned(user, text, pair, restore, rule, series)

    async def step(self, step: Step) -> None:
        model = self.model
        match step:
            case Create():
                user = USERS[step.user]
                if not all(p.settled for p in model.schedules if p.user == user):
                    return  # one schedule at a time per user: stacking is the second property's
                pair = PAIRS[step.pair] if step.parts != "message" else None
                planned = self.planned(
                    user,
                    step.start,
                    step.length,
                    step.parts != "presence",
                    pair,
                    step.restore,
                    step.recurrence,
                )
                model.create(planned, self.now)
                fields = ScheduleInput(
                    user=user,
                    start=wall(planned.occurrences[0].start),
                    end=wall(planned.occurrences[0].end),
                    time_zone="UTC",
                    recurrence=step.recurrence,
                    status_message=planned.message,
                    presence=PresencePair(availability=pair[0], activity=pair[1]) if pair else None,
                    restore_previous=step.restore,
                )
                self.ids.append((await self.services.schedules.create("test", fields, None)).id)
            case Wait():
                await self.travel(timedelta(minutes=step.minutes))
                await self.tick(step.ticking)
            case Until():
                moments = [p.due for p in model.schedules if p.due is not None]
                moments += [
                    moment for p in model.schedules for o in p.occurrences for moment in (o.start, o.end)
                ]
                later = [moment for moment in moments if moment > self.now]
                wait = min(later) - self.now if later else timedelta(minutes=15)
                await self.travel(wait + timedelta(minutes=step.late))
                await self.tick(step.ticking)
            case Cancel():
                running = [i for i, p in enumerate(model.schedules) if p.status == "active"]
                candidates = running or list(range(len(self.ids)))
                if candidates:
                    which = candidates[step.which % len(candidates)]
                    model.cancel(model.schedules[which], self.now)
                    await self.services.schedules.cancel("test", self.ids[which])
            case Patch():
                if not self.ids:
                    return
                which = step.which % len(self.ids)
                old = model.schedules[which]
                new = self.planned(
                    old.user,
                    step.start,
                    step.length,
                    old.message is not None,
                    old.pair,
                    step.restore,
                    old.recurrence,
                )
                accepted = model.patch(old, new, self.now)
                changes = {
                    "start": wall(new.occurrences[0].start),
                    "end": wall(new.occurrences[0].end),
                    "restore_previous": step.restore,
                }
                if new.message is not None:
                    changes["status_message"] = new.message
                try:
                    await self.services.schedules.update(
                        "test", self.ids[which], ScheduleFields(**changes), None
                    )
                    refused = None
                except ServiceError as error:
                    refused = error.status
                assert refused == (None if accepted else 409), f"PATCH of schedule {which}"
            case Fault():
                user = USERS[step.user]
                model.faults[(user, step.action)].append([step.status, step.count])
                await self.graph.fault(
                    f"/users/{user}/presence/{step.action}",
                    step.status,
                    method="POST",
                    count=step.count,
                    retry_after=1 if step.status == 503 else None,
                )
            case Restart():
                now = self.now
                await self.services.tables.close()
                self.clock = Clock()
                self.clock.set_now(now, frozen=True)
                self.services = build_services(self.settings, self.clock)
            case UserSets():
                user = USERS[step.user]
                note = f"User note {next(self.names)}"
                model.shown[user] = (note, None)
                await self.graph.set_status_message_as_user(user, note)

    async def drain(self) -> None:
        """Far past every end, tick until the model has nothing left to do (failed steps back off)."""
        ends = [o.end for p in self.model.schedules for o in p.occurrences]
        await self.travel(max([*ends, self.now]) + timedelta(hours=1) - self.now)
        for _ in range(MAX_ATTEMPTS + 2):
            await self.tick("engine")
            due = [p.due for p in self.model.schedules if p.due is not None]
            if not due:
                return
            await self.travel(max(min(due), self.now + timedelta(minutes=1)) - self.now)
        raise AssertionError("the model never settled")

    async def writes(self) -> dict[str, list[Call]]:
        """The service's setStatusMessage and setPresence calls per user, from the emulator's journal (/me
        is the user)."""
        found: dict[str, list[Call]] = defaultdict(list)
        for entry in await self.graph.journal(path="/users/", method="POST"):
            parts = entry.path.split("/")  # ["", "v1.0", "users", id, "presence", action]
            if parts[:3] != ["", "v1.0", "users"] or parts[-1] not in {SET_MESSAGE, SET_PRESENCE}:
                continue
            outcome = "ok" if entry.status < 300 else str(entry.status)
            body = entry.body
            if parts[-1] == SET_MESSAGE:
                expiry = (body["statusMessage"].get("expiryDateTime") or {}).get("dateTime")
                sent = (body["statusMessage"]["message"]["content"], expiry)
            else:
                sent = (body["availability"], body["activity"], body["expirationDuration"])
            found[parts[3]].append((parts[-1], sent, outcome))
        return found

    async def check(self) -> None:
        """The journal and every schedule's status are what the model predicts, so far."""
        writes = await self.writes()
        for user in USERS:
            assert writes[user] == self.model.calls[user], f"Graph writes for {user}"
        for index, schedule_id in enumerate(self.ids):
            view, _ = await self.services.schedules.get(schedule_id)
            assert view.status == self.model.schedules[index].status, f"status of schedule {index}"

    async def final_checks(self) -> None:
        assert all(p.status in {"completed", "cancelled", "failed"} for p in self.model.schedules)
        for user in USERS:
            state = await self.graph.user_state(user)
            shown = (state["statusMessage"] or {}).get("content") or None
            assert shown == self.model.message_shown(user, self.now), f"message shown to {user}"
        # Said on their own, though the call-for-call comparison implies them: never a start at or after its
        # end, never the same start twice.
        starts = [
            (entry.path, entry.body["statusMessage"]["message"]["content"], entry.at, expiry)
            for entry in await self.graph.journal(path="/setStatusMessage")
            if entry.path.startswith("/v1.0/users/") and entry.status < 300
            for expiry in [(entry.body["statusMessage"].get("expiryDateTime") or {}).get("dateTime")]
            if expiry is not None
        ]
        assert all(at < datetime.fromisoformat(expiry).replace(tzinfo=UTC) for _, _, at, expiry in starts)
        assert len({(path, text, expiry) for path, text, _, expiry in starts}) == len(starts)


async def run_script(azurite, emulator_url: str, script: list[Step]) -> None:
    async with EmulatorControl(emulator_url) as graph:
        await graph.reset()
        await graph.set_clock(T0, frozen=True)
        run = Run(azurite, emulator_url, graph)
        try:
            for step in script:
                await run.step(step)
            await run.drain()
            await run.final_checks()
        finally:
            await run.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts)
async def test_any_interleaving_ends_where_the_model_says(azurite, emulator_url, script):
    await run_script(azurite, emulator_url, script)


# --- the second property: one user's stacked schedules ---------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One user's one-offs, overlapping as they come: windows in 15-minute slots after T0 with every start
    and end at its own moment; the user sets a message 5 minutes into each slot of `user_sets`; the timers
    tick at every start and end, so each tick has exactly one thing to do (no catch-up, no faults here)."""

    windows: tuple[tuple[int, int], ...]
    restore: tuple[bool, ...]
    presence: bool  # all hold a presence (each its own pair), or none does
    user_sets: tuple[int, ...]
    note_first: bool  # the user has a message before any schedule starts


@st.composite
def stacks(draw: st.DrawFn) -> Stack:
    count = draw(st.integers(2, 3))
    moments = draw(st.lists(st.integers(1, 16), min_size=2 * count, max_size=2 * count, unique=True))
    windows = tuple((min(a, b), max(a, b)) for a, b in zip(moments[::2], moments[1::2], strict=True))
    user_sets = draw(st.lists(st.integers(1, 15), max_size=2, unique=True))
    return Stack(
        windows=windows,
        restore=tuple(draw(st.lists(st.booleans(), min_size=count, max_size=count))),
        presence=draw(st.booleans()),
        user_sets=tuple(sorted(user_sets)),
        note_first=draw(st.booleans()),
    )


def slot(k: int) -> datetime:
    return T0 + timedelta(minutes=15 * k)


def stack_moments(stack: Stack) -> list[tuple[datetime, str, int]]:
    moments = [(slot(s), "start", i) for i, (s, _) in enumerate(stack.windows)]
    moments += [(slot(e), "end", i) for i, (_, e) in enumerate(stack.windows)]
    moments += [(slot(k) + timedelta(minutes=5), "user", k) for k in stack.user_sets]
    return sorted(moments)


def stack_model(stack: Stack) -> tuple[list[Call], str | None]:
    """The Graph writes and the final message, by shared/schedules/rules.py's documented rules and api.md:
    the later start wins while it runs, and when it ends the latest-started schedule still running shows
    again; the last one to end restores what was shown before any of them (restorePrevious); a message the
    user set meanwhile is never overwritten."""
    calls: list[Call] = []
    shown: tuple[str, datetime | None] | None = ("User note 0", None) if stack.note_first else None
    owner: int | None = None  # the schedule whose message the service last showed, if it still may
    held: int | None = None  # the schedule whose presence the service holds
    replaced: dict[int, str | None] = {}
    running: list[int] = []  # in start order

    def visible(now: datetime) -> str | None:
        return shown[0] if shown is not None and (shown[1] is None or now < shown[1]) else None

    def show(schedule: int) -> None:
        nonlocal shown, owner
        end = slot(stack.windows[schedule][1])
        calls.append((SET_MESSAGE, (f"Stacked {schedule}", wall(end)), "ok"))
        shown, owner = (f"Stacked {schedule}", end), schedule

    def hold(schedule: int, now: datetime) -> None:
        nonlocal held
        end = slot(stack.windows[schedule][1])
        calls.append((SET_PRESENCE, (*PAIRS[schedule], session_expiration(now, end)), "ok"))
        held = schedule

    for now, kind, which in stack_moments(stack):
        if kind == "user":
            shown = (f"User note {which}", None)
        elif kind == "start":
            before = visible(now)
            # Stacked: it replaces what the one below replaced, as long as that one's message is shown.
            replaced[which] = (
                replaced[owner] if owner is not None and before == f"Stacked {owner}" else before
            )
            show(which)
            if stack.presence:
                hold(which, now)
            running.append(which)
        else:
            running.remove(which)
            successor = running[-1] if running else None
            if owner == which and visible(now) is None:  # still ours: its expiry is now
                if successor is not None:
                    show(successor)
                    replaced[successor] = replaced[which]
                elif stack.restore[which] and replaced[which]:
                    calls.append((SET_MESSAGE, (replaced[which], None), "ok"))
                    shown, owner = (replaced[which], None), None
                else:
                    owner = None
            elif owner in {which, None}:  # the user changed it: theirs stays
                event("the user changed the message meanwhile")
                owner = None  # and the successor's message stays away (its presence comes back)
            if held == which:
                held = None  # clearPresence (not compared)
                if successor is not None:
                    hold(successor, now)
            event(f"{len(running) + 1} stacked" if running else "alone")
    return calls, visible(slot(17))


async def run_stack(azurite, emulator_url: str, stack: Stack) -> None:
    calls, final = stack_model(stack)
    async with EmulatorControl(emulator_url) as graph:
        await graph.reset()
        await graph.set_clock(T0, frozen=True)
        run = Run(azurite, emulator_url, graph)
        services = run.services
        try:
            if stack.note_first:
                await graph.set_status_message_as_user(ALICE_ID, "User note 0")
            ids = []
            for index, (start, end) in enumerate(stack.windows):
                fields = ScheduleInput(
                    user=ALICE_ID,
                    start=wall(slot(start)),
                    end=wall(slot(end)),
                    time_zone="UTC",
                    status_message=f"Stacked {index}",
                    presence=PresencePair(availability=PAIRS[index][0], activity=PAIRS[index][1])
                    if stack.presence
                    else None,
                    restore_previous=stack.restore[index],
                )
                ids.append((await services.schedules.create("test", fields, None)).id)
            for now, kind, which in [*stack_moments(stack), (slot(17), "end", -1)]:
                await run.travel(now - run.now)
                if kind == "user":
                    await graph.set_status_message_as_user(ALICE_ID, f"User note {which}")
                else:
                    await services.engine.tick()
                    await services.holds.renew_due()

            assert (await run.writes())[ALICE_ID] == calls
            for schedule_id in ids:
                assert (await services.schedules.get(schedule_id))[0].status == "completed"
            state = await graph.user_state(ALICE_ID)
            assert ((state["statusMessage"] or {}).get("content") or None) == final
        finally:
            await run.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=stacks())
async def test_stacked_schedules_hand_over_and_restore_as_documented(azurite, emulator_url, stack):
    await run_stack(azurite, emulator_url, stack)


# --- where the engine once departed from the model, each on its smallest script ---------------------


@pytest.mark.parametrize(
    "script",
    [
        # A one-off from 08:00 to 09:00 created at 08:00 starts at 08:01 (it was never indexed).
        pytest.param([Create(0, 0, 60, None, "message", 0, True), Wait(1, "engine")], id="starts-now"),
        # Shown 09:00-10:00 with nothing before it, cancelled at 09:00: cleared at once (it stayed to 10:00).
        pytest.param(
            [Create(0, 60, 60, None, "message", 0, True), Until(0, "engine"), Cancel(0), Wait(1, "engine")],
            id="cancel-clears",
        ),
        # The restore at 10:00 gets a 500: retried at 10:01, it still finds what to restore (it found none).
        pytest.param(
            [
                UserSets(0),
                Create(0, 60, 60, None, "message", 0, True),
                Until(0, "engine"),
                Fault(0, SET_MESSAGE, 500, 1),
                Until(0, "engine"),
            ],
            id="restore-refused",
        ),
        # 08:15-09:15 moved to 08:30-09:30 at 08:00; Graph fails at 08:31 and at 08:32 (so the next try is
        # due at 08:34); at 08:33 the due entry the PATCH left behind must not bring the retry forward.
        pytest.param(
            [
                Create(0, 15, 60, None, "message", 0, True),
                Patch(0, 30, 60, True),
                Fault(0, SET_MESSAGE, 500, 2),
                Wait(31, "engine"),
                Until(0, "engine"),
                Wait(1, "engine"),
            ],
            id="backoff-bypassed",
        ),
        # At 10:00 renew_sessions runs before apply_schedules: the expired message is kept for the restore.
        pytest.param(
            [UserSets(0), Create(0, 60, 60, None, "message", 0, True), Until(0, "engine"), Until(0, "renew")],
            id="renew-first",
        ),
        # 09:00-09:15 with a presence: setStatusMessage succeeds, setPresence gets a 500; at 09:15 the
        # occurrence is skipped and the user's own message is put back.
        pytest.param(
            [
                UserSets(0),
                Create(0, 60, 15, None, "both", 0, True),
                Fault(0, SET_PRESENCE, 500, 1),
                Until(0, "engine"),
                Wait(15, "engine"),
            ],
            id="half-started",
        ),
        # The same half-started occurrence, PATCHed (refused: 409) and then cancelled: the message is undone.
        pytest.param(
            [
                UserSets(0),
                Create(0, 60, 15, None, "both", 0, True),
                Fault(0, SET_PRESENCE, 500, 1),
                Until(0, "engine"),
                Patch(0, 120, 15, True),
                Cancel(0),
                Wait(1, "engine"),
            ],
            id="half-started-patched-cancelled",
        ),
        # setPresence refused at every try: after MAX_ATTEMPTS the schedule is failed, its message left to
        # Graph's expiry and the hold no longer waits for a restore.
        pytest.param(
            [
                Create(0, 60, 60, None, "both", 0, True),
                Fault(0, SET_PRESENCE, 500, 8),
                Until(0, "engine"),
                Until(0, "engine"),
                Until(0, "engine"),
                Until(0, "engine"),
                Until(0, "engine"),
            ],
            id="fails-for-good",
        ),
    ],
)
async def test_once_departed(azurite, emulator_url, script):
    await run_script(azurite, emulator_url, script)


async def test_once_departed_in_a_stack(azurite, emulator_url):
    # 08:15-09:00 under 08:30-08:45; the user sets a message at 08:35; at 08:45 it stays (08:15's came back).
    stack = Stack(((1, 4), (2, 3)), restore=(False, False), presence=False, user_sets=(2,), note_first=False)
    await run_stack(azurite, emulator_url, stack)
