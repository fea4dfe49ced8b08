"""Injected trouble: the next N calls matching a method and path glob fail or slow down; random faults
with a seed; added latency. Paths are matched after /v1.0 (e.g. "*/setPresence", "/users/*/presence")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

# Graph sends Retry-After with these; the emulator's default is 1 second (0 read as "no wait" hid the
# product's handling of a real one).
RETRY_AFTER_STATUSES = frozenset({429, 503})
DEFAULT_RETRY_AFTER = 1
# How Retry-After is written: delta-seconds, an HTTP-date (RFC 9110, on the emulator's clock), or left out
# (Graph does not promise one on every 429/503).
RetryAfterForm = Literal["seconds", "http-date", "none"]
RETRY_AFTER_FORMS: tuple[RetryAfterForm, ...] = ("seconds", "http-date", "none")


def retry_after_header(seconds: int | None, form: RetryAfterForm, now: datetime) -> str | None:
    """The Retry-After header's value for a fault, or None to send none."""
    if seconds is None or form == "none":
        return None
    if form == "http-date":
        # An HTTP-date has whole seconds: round up so the wait is never shorter than asked.
        return format_datetime(now.replace(microsecond=0) + timedelta(seconds=seconds + 1), usegmt=True)
    return str(seconds)


@dataclass(frozen=True)
class Fault:
    """What happens to one request: an optional delay, then an error status (None: the call proceeds)."""

    status: int | None
    delay_ms: int = 0
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None
    source: str = "rule"  # "rule" or "random"
    retry_after_form: RetryAfterForm = "seconds"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "delayMs": self.delay_ms,
            "retryAfter": self.retry_after,
            "retryAfterForm": self.retry_after_form,
        }


def _matches(method_glob: str, path_glob: str, method: str, path: str, *, envelope: bool) -> bool:
    # A $batch envelope is only faulted by a rule that names it: Graph throttles the inner requests.
    if envelope and "$batch" not in path_glob:
        return False
    return (method_glob == "*" or method_glob.upper() == method.upper()) and fnmatchcase(path, path_glob)


@dataclass
class FaultRule:
    method: str
    path: str
    status: int | None
    count: int
    retry_after: int | None = None
    delay_ms: int = 0
    code: str | None = None
    message: str | None = None
    retry_after_form: RetryAfterForm = "seconds"

    def fault(self) -> Fault:
        retry_after = self.retry_after
        if retry_after is None and self.status in RETRY_AFTER_STATUSES:
            retry_after = DEFAULT_RETRY_AFTER
        return Fault(
            self.status,
            self.delay_ms,
            retry_after,
            self.code,
            self.message,
            retry_after_form=self.retry_after_form,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "remaining": self.count,
            "retryAfter": self.retry_after,
            "delayMs": self.delay_ms,
            "code": self.code,
            "message": self.message,
            "retryAfterForm": self.retry_after_form,
        }


@dataclass
class RandomFaults:
    rate: float
    seed: int
    statuses: tuple[int, ...]
    retry_after: int = DEFAULT_RETRY_AFTER
    method: str = "*"
    path: str = "*"
    # Each throttling fault draws its form from these (seeded); one form draws nothing.
    retry_after_forms: tuple[RetryAfterForm, ...] = ("seconds",)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> Fault | None:
        if self.rng.random() >= self.rate:
            return None
        status = self.rng.choice(self.statuses)
        retry_after = self.retry_after if status in RETRY_AFTER_STATUSES else None
        forms = self.retry_after_forms
        form = forms[0] if len(forms) == 1 else self.rng.choice(forms)
        return Fault(status, retry_after=retry_after, source="random", retry_after_form=form)

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "statuses": list(self.statuses),
            "retryAfter": self.retry_after,
            "retryAfterForms": list(self.retry_after_forms),
            "method": self.method,
            "path": self.path,
        }


class Faults:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._random: RandomFaults | None = None

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def set_random(self, random_faults: RandomFaults) -> None:
        self._random = random_faults

    def clear(self) -> None:
        self._rules.clear()
        self._random = None

    def take(self, method: str, path: str, *, envelope: bool = False) -> Fault | None:
        """The fault for this call, if any: counted rules first (oldest first, consuming one), then random."""
        for rule in self._rules:
            if rule.count > 0 and _matches(rule.method, rule.path, method, path, envelope=envelope):
                rule.count -= 1
                fault = rule.fault()
                self._rules = [r for r in self._rules if r.count > 0]
                return fault
        chance = self._random
        if chance is not None and _matches(chance.method, chance.path, method, path, envelope=envelope):
            return chance.draw()
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self._rules],
            "random": self._random.to_json() if self._random else None,
        }


class Latency:
    """Added latency per /v1.0 HTTP request (once per $batch, not per inner request)."""

    def __init__(self) -> None:
        self.off()

    def off(self) -> None:
        self._fixed_ms = 0
        self._range: tuple[int, int] | None = None
        self._rng = random.Random()
        self._seed: int | None = None

    def fixed(self, ms: int) -> None:
        self.off()
        self._fixed_ms = ms

    def between(self, min_ms: int, max_ms: int, seed: int | None) -> None:
        self.off()
        self._range = (min_ms, max_ms)
        self._seed = seed
        self._rng = random.Random(seed)

    def next_delay_ms(self) -> int:
        if self._range is not None:
            return self._rng.randint(*self._range)
        return self._fixed_ms

    def to_json(self) -> dict[str, Any]:
        if self._range is not None:
            return {"minMs": self._range[0], "maxMs": self._range[1], "seed": self._seed}
        return {"fixedMs": self._fixed_ms}
