"""The journal: every /v1.0 request the emulator received (inner $batch requests too), oldest first.

What reached the wire is the truth tests assert on, so an entry holds the request as received (headers
without credentials) and the status answered.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localdev.graph.clock import iso_z

# Enough for any test or benchmark run; the oldest entries go first beyond it.
MAX_ENTRIES = 100_000
_SECRET_WORDS = ("authorization", "token", "key", "secret", "cookie")


@dataclass(frozen=True)
class RecordedRequest:
    seq: int
    at: datetime
    method: str
    path: str  # normalized: /v1.0/users/{id}/presence/setPresence (no doubled slashes, no query)
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    status: int
    request_id: str
    batch_request_id: str | None = None  # the enclosing $batch's request id, for an inner request
    batch_item_id: str | None = None  # the inner request's "id" in the batch
    fault: dict[str, Any] | None = None  # the injected fault that answered (or delayed) it
    readings: list[str] | None = None  # the readings (readings.py) that made a difference to the answer

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "seq": self.seq,
            "at": iso_z(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "requestId": self.request_id,
        }
        if self.batch_request_id is not None:
            entry["batchRequestId"] = self.batch_request_id
            entry["batchItemId"] = self.batch_item_id
        if self.fault is not None:
            entry["fault"] = self.fault
        if self.readings:
            entry["readings"] = self.readings
        return entry


def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers without credentials: Authorization and anything named like a token, key, secret or cookie."""
    return {k: v for k, v in headers.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


def parsed_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


class Journal:
    def __init__(self) -> None:
        self._entries: deque[RecordedRequest] = deque(maxlen=MAX_ENTRIES)
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        """Taken when a request arrives, so entries sort by arrival though they are kept on completion."""
        return next(self._seq)

    def record(self, entry: RecordedRequest) -> None:
        self._entries.append(entry)

    def entries(self, *, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        found = [
            e
            for e in self._entries
            if (not method or e.method.upper() == method.upper()) and (not path or path in e.path)
        ]
        return sorted(found, key=lambda e: e.seq)

    def clear(self) -> None:
        self._entries.clear()
