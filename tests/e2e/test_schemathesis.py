"""schemathesis over /api/openapi.json, through the local host: at least 1,000 generated requests, valid
and invalid (schema-conformant and schema-violating), against every operation. None may be answered with
a 5xx, and every error the app answers is problem+json with its status and a stable code. (The 401 for
a missing or wrong function key is the Functions host's own, without a body, as documented.) Then every
operation with a body again, one of its fields (or the whole body) replaced by what Python's JSON parser
cannot take: numbers of thousands of digits and nesting deeper than its recursion limit: 400s."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, Response, openapi

from localdev.stack import Stack
from shared.api.operations import CATALOG, OPENAPI
from tests.e2e.conftest import KEY

# aiohttp's HTTP parser (the local host's server) refusing a request that is not valid HTTP, e.g. a
# generated path whose bytes end up in a header line: plain text, never the app's answer.
_HTTP_PARSER_ERRORS = (
    "Invalid character",
    "Bad status line",
    "Invalid header",
    "Invalid method",
    "Bad Request",
)
PER_OPERATION = 40  # per generation mode; health has no invalid form: 31 runs x 40 is over 1,000
HOSTILE_PER_OPERATION = 30
_HOLE = "\u0000hostile\u0000"


def hostile_body(body: dict[str, Any], data: st.DataObject) -> bytes:
    """`body` as JSON with one field (or the whole body) replaced by a number of 4,301-20,000 digits (past
    Python's int limit; signed, with a fraction or an exponent) or by arrays/objects nested 1,001-60,000
    deep (past its recursion limit)."""
    digits = data.draw(st.integers(4_301, 20_000))
    number = (
        data.draw(st.sampled_from(["", "-"])) + "7" * digits + data.draw(st.sampled_from(["", ".5", "e5"]))
    )
    depth = data.draw(st.integers(1_001, 60_000))
    opening = data.draw(st.sampled_from(["[", '{"a":']))
    closing = "]" if opening == "[" else "}"
    hostile = data.draw(st.sampled_from([number, opening * depth + "0" + closing * depth]))
    where = data.draw(st.sampled_from([None, *sorted(body)]))
    if where is None:
        return hostile.encode()
    return json.dumps({**body, where: _HOLE}).replace(json.dumps(_HOLE), hostile).encode()


def send_raw(case: Any, raw: bytes) -> tuple[int, str]:
    """`case`'s request (path, query, key) with `raw` as its JSON body; the status and body answered."""
    kwargs = case.as_transport_kwargs(base_url=f"{STACK_URL[0]}/api", headers={"x-functions-key": KEY})
    query = f"?{urlencode(kwargs['params'], doseq=True)}" if kwargs.get("params") else ""
    headers = {**kwargs.get("headers", {}), "content-type": "application/json"}
    request = Request(kwargs["url"] + query, data=raw, method=kwargs["method"], headers=headers)
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


STACK_URL: list[str] = []


def test_generated_requests_get_no_5xx_and_every_error_is_problem_json(stack: Stack):
    schema = openapi.from_url(f"{stack.host_url}/api/openapi.json")
    STACK_URL[:] = [stack.host_url]
    sent: Counter[str] = Counter()
    transport: Counter[str] = Counter()
    wrong: list[str] = []
    hostile_codes: Counter[str | None] = Counter()

    def check(label: str, response: Response, path: dict) -> None:
        sent[label] += 1
        status, kind = response.status_code, (response.headers.get("content-type") or [""])[0].split(";")[0]
        if status >= 500:
            wrong.append(f"{label}: {status} {response.text[:200]}")
        elif status == 400 and kind == "text/plain" and response.text.startswith(_HTTP_PARSER_ERRORS):
            transport[label] += (
                1  # refused by the HTTP server before any app code, as Azure's front end would
            )
        elif status >= 400 and not (status == 401 and not response.content):
            body = response.json() if kind == "application/problem+json" else None
            if not (isinstance(body, dict) and body.get("status") == status and body.get("code")):
                wrong.append(f"{label} {path}: {status} {kind} {response.text[:120]}")

    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation of the catalog (schemathesis leaves out the document's own route).
    assert {f"{o.method.upper()} {o.path}" for o in operations} == {
        f"{op.method} /{op.route}" for op in CATALOG if op is not OPENAPI
    }

    def run(operation, mode: GenerationMode) -> None:
        label = f"{operation.method.upper()} {operation.path} ({mode.value})"

        @settings(
            max_examples=PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy(generation_mode=mode), key=st.sampled_from([KEY, KEY, None]))
        def call(case, key) -> None:
            headers = {"x-functions-key": key} if key else {}
            response = case.call(base_url=f"{stack.host_url}/api", headers=headers, timeout=30)
            check(f"{label}", response, case.path_parameters or {})

        try:
            call()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            print(f"{label}: nothing invalid can be made (no parameters, no body)")

    def run_hostile(operation) -> None:
        label = f"{operation.method.upper()} {operation.path} (hostile JSON)"

        @settings(
            max_examples=HOSTILE_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
        def call(case, data) -> None:
            if not isinstance(case.body, dict):
                return
            raw = hostile_body(case.body, data)
            status, text = send_raw(case, raw)
            sent[label] += 1
            code = json.loads(text).get("code") if text.startswith("{") else None
            hostile_codes[code] += 1  # invalidJson, invalidRequest; or the path's invalidUser first
            if status >= 500 or not (400 <= status < 500 and code):
                wrong.append(f"{label}: {status} {text[:200]}")

        call()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode)
        if operation.method.upper() in {"POST", "PUT", "PATCH"} and operation.path != "/watches/{id}":
            run_hostile(operation)
    print(json.dumps(dict(sent), indent=1))  # shown with -s: how many requests each operation got
    print(f"refused by the HTTP server itself (not valid HTTP): {dict(transport)}")
    print(f"hostile JSON answered: {dict(hostile_codes)}")
    assert sum(sent.values()) >= 1000
    assert hostile_codes["invalidJson"] >= 10
    assert hostile_codes["invalidRequest"] >= 10
    assert not wrong, wrong[:10]
