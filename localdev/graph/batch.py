"""JSON batching, POST /v1.0/$batch: at most 20 requests, each run through the same pipeline as a request
of its own (faults, routing, permissions, journal), with the batch's authentication.

The emulator runs the inner requests one after another in the order given (Graph may run them in any
order) and answers them shuffled (seeded) or in the order given (readings.py). Request ids are compared
case-insensitively by default (Graph: ids are not case-sensitive). `dependsOn` is refused with a 400:
the emulator does not sequence requests, and a request it accepted should be one Graph runs the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

from multidict import CIMultiDict, CIMultiDictProxy

from localdev.graph.auth import Caller
from localdev.graph.errors import bad_request, method_not_allowed
from localdev.graph.rules import MAX_BATCH_REQUESTS
from localdev.graph.wire import GraphRequest, GraphResponse, split_path

if TYPE_CHECKING:
    from localdev.graph.graph_api import GraphApi

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
ITEM_KEYS = frozenset({"id", "method", "url", "headers", "body"})


@dataclass(frozen=True)
class BatchItem:
    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any


def is_batch(request: GraphRequest) -> bool:
    return len(request.segments) == 1 and request.segments[0].lower() == "$batch"


async def run_batch(api: GraphApi, request: GraphRequest, caller: Caller) -> GraphResponse:
    # The envelope itself is faulted only by a rule whose path names $batch.
    fault = api.emulator.faults.take(request.method, request.path, envelope=True)
    faulted = await api.apply_fault(fault, request)
    if faulted is not None:
        return faulted
    if request.method.upper() != "POST":
        raise method_not_allowed(request.method)
    readings = api.emulator.readings
    items = parse_batch(request.json_body(), readings.batch_id_key)
    responses = []
    for item in items:
        inner = _inner_request(request, item)
        seq, arrived = api.emulator.journal.next_seq(), api.emulator.clock.now()
        response = await api.call(inner, caller)
        api.record(seq, arrived, inner, response)
        headers = dict(response.headers)
        if response.content_type is not None:
            headers["Content-Type"] = response.content_type
        responses.append(
            {"id": item.id, "status": response.status, "headers": headers, "body": response.body}
        )
    answer = GraphResponse(200, {"responses": readings.answer_order(responses)})
    answer.readings = readings.batch_order_note(len(responses))
    return answer


def parse_batch(body: dict[str, Any], id_key: Callable[[str], str] = str.lower) -> list[BatchItem]:
    """The batch's requests, or a 400 for the whole batch when its shape is wrong."""
    if set(body) - {"requests"}:
        raise bad_request(f"Invalid batch payload: unexpected properties {sorted(set(body) - {'requests'})}.")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad_request("Invalid batch payload: 'requests' must be a non-empty array.")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise bad_request(
            f"Invalid batch payload: {len(requests)} requests; a batch holds at most {MAX_BATCH_REQUESTS}."
        )
    items: list[BatchItem] = []
    for raw in requests:
        item = _parse_item(raw)
        if any(id_key(existing.id) == id_key(item.id) for existing in items):
            raise bad_request(f"Invalid batch payload: the request id '{item.id}' is used twice.")
        items.append(item)
    return items


def _parse_item(raw: Any) -> BatchItem:
    if not isinstance(raw, dict):
        raise bad_request("Invalid batch payload: each request must be a JSON object.")
    if "dependsOn" in raw:
        raise bad_request("Invalid batch payload: dependsOn is not supported by the emulator.")
    if set(raw) - ITEM_KEYS:
        raise bad_request(f"Invalid batch payload: unexpected properties {sorted(set(raw) - ITEM_KEYS)}.")
    item_id, method, url = raw.get("id"), raw.get("method"), raw.get("url")
    if not isinstance(item_id, str) or not item_id:
        raise bad_request("Invalid batch payload: each request needs a string 'id'.")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise bad_request(f"Invalid batch payload: request '{item_id}' has no valid 'method'.")
    if not isinstance(url, str) or not url or urlsplit(url).scheme:
        raise bad_request(f"Invalid batch payload: request '{item_id}' needs a relative 'url'.")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise bad_request(
            f"Invalid batch payload: the headers of request '{item_id}' must map names to strings."
        )
    body = raw.get("body")
    if body is not None and not any(name.lower() == "content-type" for name in headers):
        # Graph: a request with a body must say what the body is.
        raise bad_request(
            f"Invalid batch payload: request '{item_id}' has a body but no Content-Type header."
        )
    return BatchItem(item_id, method.upper(), url, headers, body)


def _inner_request(batch: GraphRequest, item: BatchItem) -> GraphRequest:
    parts = urlsplit(item.url)
    return GraphRequest(
        method=item.method,
        segments=split_path(parts.path),
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=CIMultiDictProxy(CIMultiDict(item.headers)),
        body=json.dumps(item.body).encode() if item.body is not None else b"",
        request_id=str(uuid4()),
        base_url=batch.base_url,
        batch_request_id=batch.request_id,
        batch_item_id=item.id,
    )
