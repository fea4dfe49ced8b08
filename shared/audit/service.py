"""Reading the audit trail (`GET /api/audit`): every change the API and the timers made, newest first.
Rows are written by `AuditLog.append` at each change and dropped by `purge_history` after RETENTION_DAYS,
so a read never looks further back than that: at most RETENTION_DAYS + 2 day partitions."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import timedelta

from shared.api.models import AuditEntry
from shared.audit.store import AuditLog, AuditRecord
from shared.directory.ids import parse_user
from shared.directory.service import UserDirectory
from shared.platform.clock import Clock
from shared.platform.errors import INVALID_REQUEST
from shared.presence.rules import parse_until

_CURSOR = re.compile(r"(\d{8})\|(\d{13}-[0-9a-f]{12})")


class AuditTrail:
    def __init__(self, log: AuditLog, directory: UserDirectory, clock: Clock, retention_days: int) -> None:
        self._log = log
        self._directory = directory
        self._clock = clock
        self._retention = timedelta(days=retention_days)

    async def read(
        self, user: str | None, since: str | None, until: str | None, top: int, after: str | None
    ) -> tuple[list[AuditEntry], str | None]:
        """A page of entries and the cursor of the next page (None: this was the last)."""
        now = self._clock.now()
        ref = parse_user(user, field="user") if user is not None else None
        start = parse_until(since, None, field="from") if since is not None else now - self._retention
        end = parse_until(until, None, field="to") if until is not None else now
        if start > end:
            raise INVALID_REQUEST("from must not be after to.", field="from")
        cursor = None
        if after is not None:
            match = _CURSOR.fullmatch(after)
            if match is None:
                raise INVALID_REQUEST("Use the nextLink as given.", field="after")
            cursor = (match[1], match[2])
        # Nothing is older than the retention (purged) or newer than now (a day of clock skew allowed).
        start = max(start, now - self._retention - timedelta(days=1))
        end = min(end, now + timedelta(days=1))
        user_id = await self._directory.resolve(ref) if ref is not None else None
        rows, last = await self._log.page(user_id=user_id, since=start, until=end, top=top, after=cursor)
        return [_entry(row) for row in rows], (f"{last[0]}|{last[1]}" if last else None)


def _entry(record: AuditRecord) -> AuditEntry:
    return AuditEntry(**asdict(record))  # the API's entry is the stored record, field for field
