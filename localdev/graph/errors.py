"""Graph-shaped errors: one exception family, turned into `{"error": {...}}` in one place (`error_body`).

The codes are the ones Graph uses for each case as far as we know them; where Graph's own code is
unknown we keep one code per status so callers can rely on the status alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Codes used for a bare status (faults and generic failures). Validation errors use BadRequest.
STATUS_CODES: dict[int, str] = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "NotFound",
    405: "Request_BadRequest",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    424: "FailedDependency",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

STATUS_MESSAGES: dict[int, str] = {
    429: "Too many requests. Retry after the number of seconds in the Retry-After header.",
    500: "An internal server error occurred.",
    502: "Bad gateway.",
    503: "The service is temporarily unavailable. Retry after a while.",
    504: "The gateway timed out.",
    424: "The batch failed: a request it depends on failed.",
}


class GraphError(Exception):
    """A Graph error response: status, code, message, and any extra response headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    @classmethod
    def for_status(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | str | None = None,
    ) -> GraphError:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return cls(
            status,
            code or STATUS_CODES.get(status, "UnknownError"),
            message or STATUS_MESSAGES.get(status, f"The request failed with status {status}."),
            headers,
        )


def bad_request(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def invalid_token(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message)


def insufficient_privileges() -> GraphError:
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def user_not_found(key: str) -> GraphError:
    # Graph (directory): the exact wording of a missing user.
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def directory_object_not_found(key: str) -> GraphError:
    """A service principal (or another directory object) that does not exist: the same wording as a user."""
    return user_not_found(key)


def invalid_object_id(key: str) -> GraphError:
    # Graph (directory): an id in the path or body that is not a GUID.
    return GraphError(400, "Request_BadRequest", f"Invalid object identifier '{key}'.")


def unsupported_query(message: str) -> GraphError:
    # Graph (directory): a $filter it does not support on that property, or at all.
    return GraphError(400, "Request_UnsupportedQuery", message)


def invalid_top(raw: str) -> GraphError:
    # OData's own wording for a $top that is not a non-negative integer.
    return bad_request(
        f"Invalid value '{raw}' for $top query option found. The $top query option requires a non-negative "
        "integer value."
    )


def invalid_page_size(size: int) -> GraphError:
    # Graph (directory): a $top outside 1..999, with this code and wording.
    return unsupported_query(f"Invalid page size specified: '{size}'. Must be between 1 and 999 inclusive.")


def invalid_skip_token() -> GraphError:
    # Graph's wording as seen for a skip token it did not issue; the code is the directory's usual one.
    return GraphError(400, "Request_BadRequest", "Invalid Skip Token")


def count_not_supported() -> GraphError:
    # Graph (directory): $count is an advanced query, served only with ConsistencyLevel: eventual.
    return GraphError(400, "Request_BadRequest", "$count is not currently supported.")


def app_role_not_found(resource_app_id: str) -> GraphError:
    return GraphError(
        400,
        "Request_BadRequest",
        f"Permission being assigned was not found on application '{resource_app_id}'.",
    )


def app_role_assignment_exists() -> GraphError:
    # Graph answers a second grant of the same app role to the same principal with a 400, not a 409.
    return GraphError(400, "Request_BadRequest", "Permission being assigned already exists on the object.")


def presence_not_found(user_id: str) -> GraphError:
    return GraphError(404, "NotFound", f"The presence of user '{user_id}' was not found.")


def presence_ids_not_found(user_ids: list[str]) -> GraphError:
    # A guess: Graph documents no error for an unknown id in getPresencesByUserId (readings.py).
    return GraphError(
        404, "NotFound", f"The presence of user '{user_ids[0]}' was not found ({len(user_ids)} unknown ids)."
    )


def unknown_segment(segment: str) -> GraphError:
    # Graph answers a path it cannot route with 400 BadRequest naming the segment.
    return bad_request(f"Resource not found for the segment '{segment}'.")


def method_not_allowed(method: str) -> GraphError:
    return GraphError(
        405, "Request_BadRequest", f"Specified HTTP method '{method}' is not allowed for the request target."
    )


def error_body(
    error: GraphError, *, request_id: str, client_request_id: str | None, now: datetime
) -> dict[str, Any]:
    inner: dict[str, Any] = {"date": now.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id}
    if client_request_id:
        inner["client-request-id"] = client_request_id
    return {"error": {"code": error.code, "message": error.message, "innerError": inner}}
