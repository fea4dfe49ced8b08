"""A /v1.0 request and response as the handlers see them, whether it came over HTTP or inside a $batch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from localdev.graph.errors import GraphError, bad_request

JSON_TYPES = ("application/json",)
# What Graph answers a successful JSON body with; errors come as plain application/json.
ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


def split_path(raw_path: str) -> tuple[str, ...]:
    """Path segments, percent-decoded one by one; empty segments dropped (Graph tolerates `//`)."""
    return tuple(unquote(part) for part in raw_path.split("/") if part)


@dataclass(frozen=True)
class GraphRequest:
    method: str
    segments: tuple[str, ...]  # the path after /v1.0, e.g. ("users", "<id>", "presence")
    query: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    request_id: str
    base_url: str  # e.g. http://127.0.0.1:8080/v1.0, for @odata.context
    body_error: GraphError | None = None  # the body could not be read (too large)
    batch_request_id: str | None = None
    batch_item_id: str | None = None

    @property
    def path(self) -> str:
        """The normalized path after /v1.0: /users/<id>/presence. Fault globs match this."""
        return "/" + "/".join(self.segments)

    @property
    def client_request_id(self) -> str | None:
        return self.headers.get("client-request-id")

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object: {} when empty; 415 for a non-JSON content type; 400 when malformed."""
        if not self.body.strip():
            return {}
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type not in JSON_TYPES:
            raise GraphError(
                415,
                "UnsupportedMediaType",
                f"The content type '{content_type or '(none)'}' is not supported; send application/json.",
            )
        try:
            body = json.loads(self.body, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"Invalid JSON in the request body: {exc}") from None
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # JSON-serializable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    fault: dict[str, Any] | None = None  # the injected fault that shaped it, for the journal
    readings: list[str] | None = None  # the readings that made a difference to it, for the journal

    @property
    def content_type(self) -> str | None:
        if self.body is None:
            return None
        return ODATA_JSON if self.status < 400 else "application/json"
