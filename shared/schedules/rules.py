"""What starting or ending one occurrence of a schedule does to the user's hold: pure, like
shared/holds/rules.py, whose plan then turns the hold into Graph calls."""

# Parts a schedule sets carry its occurrence as owner ("<id>#<version>.<index>"), so a retried start or
# end finds its own work done, an end only undoes what that occurrence set and nobody changed since, and a
# PATCHed schedule never takes what its previous version left for its own.
# Overlaps: the later start wins while it runs; when it ends, the earlier schedule still running (its
# `successor` here) shows again.

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.holds.rules import RESTORED, Hold, MessageHold, PreferredHold, SessionHold, is_occurrence_owner
from shared.schedules.recurrence import Occurrence
from shared.schedules.store import ScheduleRecord


def owner_of(record: ScheduleRecord, occurrence: Occurrence) -> str:
    return f"{record.id}#{record.version}.{occurrence.index}"


@dataclass(frozen=True)
class Running:
    """A schedule occurrence that is running, with what it shows."""

    record: ScheduleRecord
    occurrence: Occurrence


def started(
    hold: Hold, run: Running, now: datetime, shown_message: str | None, *, with_message: bool = True
) -> Hold:
    """The hold with this occurrence's parts in place. `shown_message`: what Graph shows now, the
    message to restore at the end (if it is another schedule's, the one that one replaced).
    `with_message=False`: every part but the message (a handover that must not cover the user's)."""
    record, occurrence = run.record, run.occurrence
    owner = owner_of(record, occurrence)
    mine = hold.message is not None and hold.message.owner == owner
    if with_message and record.status_message is not None and not mine:
        replaced, replaced_until = shown_message, None
        ours = hold.message
        if ours is not None and ours.message == shown_message:
            if is_occurrence_owner(ours.owner):
                # stacked schedules restore what was there before any of them
                replaced, replaced_until = ours.replaced, ours.replaced_until
            elif ours.in_graph:
                replaced_until = ours.until  # the service set it: it knows its expiry
        hold = replace(
            hold,
            message=MessageHold(
                record.status_message,
                occurrence.end,
                owner,
                now,
                replaced=replaced,
                in_graph=False,
                replaced_until=replaced_until,
            ),
        )
    if record.presence is not None and (hold.session is None or hold.session.owner != owner):
        hold = replace(hold, session=SessionHold(*record.presence, occurrence.end, owner, now))
    if record.preferred_presence is not None and (hold.preferred is None or hold.preferred.owner != owner):
        # graph_expires_at=now: not in Graph yet, so the plan sets it now.
        preferred = PreferredHold(*record.preferred_presence, occurrence.end, True, owner, now, now)
        hold = replace(hold, preferred=preferred)
    return hold


def ended(
    hold: Hold, run: Running, now: datetime, shown_message: str | None, successor: Running | None
) -> Hold:
    """The hold after this occurrence ends (or is cancelled, `now` before its end): its parts go, or
    the successor's come back. Its message is undone only while the message shown is still its own
    (shown, or gone because its expiry passed): then the successor's shows, or the one it replaced is
    put back (restorePrevious), or, cancelled early, it is cleared. A message somebody else set since
    stays, even over a successor's."""
    record, occurrence = run.record, run.occurrence
    owner = owner_of(record, occurrence)
    if hold.session is not None and hold.session.owner == owner:
        hold = replace(hold, session=None)
    if hold.preferred is not None and hold.preferred.owner == owner:
        hold = replace(hold, preferred=replace(hold.preferred, until=now))  # the plan clears it
    message = hold.message
    if message is not None and message.owner == owner:
        still_ours = shown_message == message.message or (
            not shown_message and message.until is not None and message.until <= now
        )
        if not still_ours:
            hold = replace(hold, message=None)  # the user changed it meanwhile: never overwritten
        elif successor is not None and successor.record.status_message is not None:
            again = MessageHold(
                successor.record.status_message,
                successor.occurrence.end,
                owner_of(successor.record, successor.occurrence),
                now,
                replaced=message.replaced,
                in_graph=False,
                replaced_until=message.replaced_until,
            )
            hold = replace(hold, message=again)
        elif (
            record.restore_previous
            and message.replaced
            and (message.replaced_until is None or message.replaced_until > now)
        ):
            # With the expiry it had if the service set it; one it could not see goes back without one.
            restored = MessageHold(message.replaced, message.replaced_until, RESTORED, now, in_graph=False)
            hold = replace(hold, message=restored)
        elif message.until is not None and message.until > now:
            hold = replace(hold, message=MessageHold("", None, RESTORED, now, in_graph=False))  # cleared
        else:
            hold = replace(hold, message=None)  # Graph's expiry (the occurrence end) removed it
    if successor is not None:  # its message is back above, if it may be
        hold = started(hold, successor, now, None, with_message=False)
    return hold


def abandoned(hold: Hold, schedule_id: str) -> Hold:
    """The hold once a schedule failed for good: a message of its occurrences is left to Graph's expiry,
    like any message with an end, since the schedule will never end it (nor put anything back)."""
    message = hold.message
    if message is None or not message.owner.startswith(f"{schedule_id}#"):
        return hold
    return replace(hold, message=replace(message, owner=schedule_id, replaced=None))
