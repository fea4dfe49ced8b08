"""The service's one error catalog: every code a caller can see, once, with its HTTP status and title.
Raise by name (`raise INVALID_USER("...", field="user")`); shared/api/http.py makes the problem+json."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class ServiceError(Exception):
    """A failure a caller can see: an entry of the catalog (its status and code) with this case's detail."""

    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, object] = field(default_factory=dict)  # extra problem members, e.g. health checks

    def __post_init__(self) -> None:
        kind = CATALOG.get(self.code)
        if kind is None or kind.status != self.status:
            raise ValueError(f"{self.status} {self.code} is not in the error catalog")
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def title(self) -> str:
        return CATALOG[self.code].title


@dataclass(frozen=True)
class ErrorKind:
    """One entry of the catalog. Calling it makes the error: `detail` says what is wrong in this case;
    `field` names the offending field (an `errors` entry with the detail as its message)."""

    code: str
    status: int | None  # None: never an answer to a request, only a record's lastError
    title: str  # the kind of problem, in a few words (problem+json `title`)

    def __call__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[FieldError] | None = None,
        retry_after: int | str | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, object] | None = None,
    ) -> ServiceError:
        if self.status is None:
            raise TypeError(f"{self.code} is a lastError code, not an answer")
        found = list(errors or []) + ([FieldError(field, detail)] if field is not None else [])
        all_headers = dict(headers or {}) | (
            {"Retry-After": str(retry_after)} if retry_after is not None else {}
        )
        return ServiceError(self.status, self.code, detail, found, all_headers, dict(extensions or {}))


CATALOG: dict[str, ErrorKind] = {}


def _kind(code: str, status: int | None, title: str) -> ErrorKind:
    if code in CATALOG:
        raise ValueError(f"error code {code} is in the catalog twice")
    CATALOG[code] = ErrorKind(code, status, title)
    return CATALOG[code]


# --- the request ---------------------------------------------------------------------------------------
INVALID_REQUEST = _kind("invalidRequest", 400, "Invalid request")
INVALID_JSON = _kind("invalidJson", 400, "Invalid JSON")
INVALID_USER = _kind("invalidUser", 400, "Invalid user")
INVALID_PRESENCE = _kind("invalidPresence", 400, "Invalid presence")
INVALID_TIME = _kind("invalidTime", 400, "Invalid time")
INVALID_TIME_ZONE = _kind("invalidTimeZone", 400, "Invalid time zone")
INVALID_MESSAGE = _kind("invalidMessage", 400, "Invalid status message")
INVALID_RECURRENCE = _kind("invalidRecurrence", 400, "Invalid recurrence")
INVALID_SCHEDULE = _kind("invalidSchedule", 400, "Invalid schedule")
INVALID_IDEMPOTENCY_KEY = _kind("invalidIdempotencyKey", 400, "Invalid Idempotency-Key")
INVALID_WATCH = _kind("invalidWatch", 400, "Invalid watch")
INVALID_GROUP = _kind("invalidGroup", 400, "Invalid group")
INVALID_CALLBACK_URL = _kind("invalidCallbackUrl", 400, "Invalid callback URL")
GROUP_TOO_LARGE = _kind("groupTooLarge", 400, "Group too large")
BODY_TOO_LARGE = _kind("bodyTooLarge", 413, "Body too large")
UNSUPPORTED_MEDIA_TYPE = _kind("unsupportedMediaType", 415, "Body not JSON")

# --- the caller ----------------------------------------------------------------------------------------
UNAUTHENTICATED = _kind("unauthenticated", 401, "Not signed in")
FORBIDDEN = _kind("forbidden", 403, "Not allowed")

# --- what the request names ----------------------------------------------------------------------------
USER_NOT_FOUND = _kind("userNotFound", 404, "User not found")
AMBIGUOUS_USER = _kind("ambiguousUser", 409, "Ambiguous user")
GROUP_NOT_FOUND = _kind("groupNotFound", 404, "Group not found")
SCHEDULE_NOT_FOUND = _kind("scheduleNotFound", 404, "Schedule not found")
WATCH_NOT_FOUND = _kind("watchNotFound", 404, "Watch not found")

# --- state and concurrency -----------------------------------------------------------------------------
HOLD_BUSY = _kind("holdBusy", 409, "Hold being changed")
SCHEDULE_BUSY = _kind("scheduleBusy", 409, "Schedule being changed")
WATCH_BUSY = _kind("watchBusy", 409, "Watch being changed")
QUOTA_BUSY = _kind("quotaBusy", 409, "Quota being changed")
SCHEDULE_ACTIVE = _kind("scheduleActive", 409, "Schedule running")
SCHEDULE_FINISHED = _kind("scheduleFinished", 409, "Schedule finished")
IDEMPOTENCY_KEY_REUSED = _kind("idempotencyKeyReused", 409, "Idempotency-Key reused")
IDEMPOTENCY_KEY_BUSY = _kind("idempotencyKeyBusy", 409, "Idempotency-Key in use")
TOO_MANY_SCHEDULES = _kind("tooManySchedules", 409, "Too many schedules")
TOO_MANY_WATCHES = _kind("tooManyWatches", 409, "Too many watches")
PRECONDITION_FAILED = _kind("preconditionFailed", 412, "Schedule changed")

# --- Microsoft Graph -----------------------------------------------------------------------------------
GRAPH_THROTTLED = _kind("graphThrottled", 429, "Graph throttling")
GRAPH_BUDGET_EXHAUSTED = _kind("graphBudgetExhausted", 429, "Graph budget spent")
GRAPH_PERMISSION_MISSING = _kind("graphPermissionMissing", 502, "Graph permission missing")
GRAPH_AUTHENTICATION_FAILED = _kind("graphAuthenticationFailed", 502, "Graph token refused")
GRAPH_ERROR = _kind("graphError", 502, "Graph error")
SESSION_ID_UNKNOWN = _kind("sessionIdUnknown", 502, "Session id unknown")
GRAPH_UNAVAILABLE = _kind("graphUnavailable", 503, "Graph unavailable")

# --- the service ---------------------------------------------------------------------------------------
STORAGE_UNAVAILABLE = _kind("storageUnavailable", 503, "Storage unavailable")
UNHEALTHY = _kind("unhealthy", 503, "Service unavailable")
INTERNAL_ERROR = _kind("internalError", 500, "Internal error")

# --- a watch's receiver (only ever a watch's lastError, never an answer to a request) -------------------
CALLBACK_FAILED = _kind("callbackFailed", None, "Callback failed")
CALLBACK_GONE = _kind("callbackGone", None, "Callback gone")


def user_not_found(user: str) -> ServiceError:
    return USER_NOT_FOUND(f"No user '{user}' exists in the directory.")


def ambiguous_user(user: str) -> ServiceError:
    return AMBIGUOUS_USER(
        f"More than one user has the e-mail address '{user}'; name the user by UPN or object id."
    )


def watch_not_found() -> ServiceError:
    """The same answer for a malformed id, a missing watch and another's: a watch id says nothing."""
    return WATCH_NOT_FOUND("No such watch.")


def storage_unavailable(reason: str) -> ServiceError:
    return STORAGE_UNAVAILABLE(f"Table storage is unavailable: {reason}", retry_after=10)


def codes_by_status() -> str:
    """Every code, grouped by HTTP status (the lastError-only ones last): the OpenAPI description of
    Problem.code."""
    groups: dict[int | None, list[str]] = {}
    for kind in CATALOG.values():
        groups.setdefault(kind.status, []).append(kind.code)
    answers = [f"{status}: {', '.join(sorted(groups[status]))}" for status in sorted(filter(None, groups))]
    record_only = ", ".join(sorted(groups.get(None, [])))
    return "; ".join(answers) + (f"; only in a watch's lastError: {record_only}" if record_only else "")
