"""schemathesis over /api/openapi.json, through the local host: at least 1,000 generated requests, valid
and invalid (schema-conformant and schema-violating), against every operation. None may be answered with
a 5xx, and every error the app answers is problem+json with its status and a stable code. (The 401 for
a missing or wrong function key is the Functions host's own, without a body, as documented.)"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, Response, openapi

from localdev.stack import Stack
from shared.operations import CATALOG, OPENAPI
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


def test_generated_requests_get_no_5xx_and_every_error_is_problem_json(stack: Stack):
    schema = openapi.from_url(f"{stack.host_url}/api/openapi.json")
    sent: Counter[str] = Counter()
    transport: Counter[str] = Counter()
    wrong: list[str] = []

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

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode)
    print(json.dumps(dict(sent), indent=1))  # shown with -s: how many requests each operation got
    print(f"refused by the HTTP server itself (not valid HTTP): {dict(transport)}")
    assert sum(sent.values()) >= 1000
    assert not wrong, wrong[:10]
