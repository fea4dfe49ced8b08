"""HTTP plumbing shared by every handler: JSON and problem+json responses, body parsing with the size,
content-type and schema checks of api.md, and the one wrapper that turns errors into problem+json."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlparse

import azure.functions as func
from pydantic import BaseModel, ValidationError

from shared.api.operations import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PAGE_SIZE_MIN, Operation
from shared.platform.config import settings
from shared.platform.errors import (
    BODY_TOO_LARGE,
    INTERNAL_ERROR,
    INVALID_JSON,
    INVALID_REQUEST,
    UNSUPPORTED_MEDIA_TYPE,
    FieldError,
    ServiceError,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]

DEFAULT_MAX_BODY = 64 * 1024


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers=headers,
        mimetype="application/json",
        charset="utf-8",
    )


def no_content() -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


def problem_response(error: ServiceError) -> func.HttpResponse:
    body: dict[str, Any] = {
        "type": f"urn:presence-automation:problem:{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    body.update(error.extensions)
    if error.errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=error.status,
        headers=dict(error.headers),
        mimetype="application/problem+json",
        charset="utf-8",
    )


def handle_errors(handler: Handler) -> Handler:
    """Every handler is wrapped in this: a ServiceError becomes its problem+json; anything else is logged
    (type and traceback, never the request) and answered as a plain 500 problem."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return await handler(req)
        except ServiceError as error:
            return problem_response(error)
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return problem_response(INTERNAL_ERROR("An unexpected error occurred."))

    return wrapper


def route(bp: func.Blueprint, op: Operation) -> Callable[[Handler], Any]:
    """Register `handler` on `bp` as catalog operation `op`, wrapped in the problem+json error handling."""

    def register(handler: Handler) -> Any:
        # In entra mode App Service Authentication is the gate (and shared/api/auth.py denies by default): a
        # function key on top would make every caller hold two secrets.
        open_route = op.anonymous or settings().caller_auth == "entra"
        level = func.AuthLevel.ANONYMOUS if open_route else func.AuthLevel.FUNCTION
        return bp.route(route=op.route, methods=[op.method], auth_level=level)(handle_errors(handler))

    return register


def page_size(value: str | None) -> int:
    """A list's `top`: 1 to 200, 50 when not given."""
    if value is None:
        return PAGE_SIZE_DEFAULT
    if not (value.isascii() and value.isdigit()) or not PAGE_SIZE_MIN <= int(value) <= PAGE_SIZE_MAX:
        raise INVALID_REQUEST(f"A whole number from {PAGE_SIZE_MIN} to {PAGE_SIZE_MAX}.", field="top")
    return int(value)


def public_url(path: str, query: str = "") -> str:
    """An absolute URL of this app: its configured public address (WEBSITE_HOSTNAME), never the request's
    Host header (which a caller writes). Without one, the path alone (a relative reference)."""
    origin = settings().public_origin or ""
    return f"{origin}{path}" + (f"?{query}" if query else "")


def next_link(req: func.HttpRequest, query: dict[str, str | None], last: str | None) -> str | None:
    """The URL of a list's next page: this route, with its filters and the cursor `after`."""
    if last is None:
        return None
    params = {k: v for k, v in {**query, "after": last}.items() if v}
    return public_url(urlparse(req.url).path, urlencode(params))


def parse_body(req: func.HttpRequest, model: type[M], max_bytes: int = DEFAULT_MAX_BODY) -> M:
    """The request body as `model`, or a 413/415/400 ServiceError naming what is wrong."""
    body = req.get_body() or b""
    if len(body) > max_bytes:
        raise BODY_TOO_LARGE(f"The body is larger than {max_bytes} bytes.")
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UNSUPPORTED_MEDIA_TYPE("The body must be application/json.")
    try:
        data = json.loads(body.decode("utf-8"), parse_int=_bounded_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise INVALID_JSON(f"The body is not valid JSON: {exc}.", field="body") from None
    except RecursionError:
        raise INVALID_JSON("The body's JSON is nested too deeply.", field="body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    except RecursionError:
        raise INVALID_JSON("The body's JSON is nested too deeply.", field="body") from None


# No number the API takes has more digits than this; a longer one is kept as an infinity, so the model
# refuses it naming its field (Python's int() refuses over 4,300 digits with a ValueError: a 500 before).
_MAX_INT_DIGITS = 100


def _bounded_int(text: str) -> int | float:
    if len(text) > _MAX_INT_DIGITS:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def validation_problem(exc: ValidationError) -> ServiceError:
    errors = [FieldError(_field_path(e["loc"]), _message(e)) for e in exc.errors()]
    first = errors[0]
    return INVALID_REQUEST(f"{first.field}: {first.message}", errors=errors)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "Unknown field."
    if error["type"] == "missing":
        return "Required."
    return str(error["msg"]).removeprefix("Value error, ")
