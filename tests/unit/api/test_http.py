import json

import azure.functions as func
import pytest

from shared.api.http import handle_errors, json_response, parse_body
from shared.api.models import PresenceQuery
from shared.platform.errors import GRAPH_THROTTLED, ServiceError


def request(body: bytes, content_type: str | None = "application/json") -> func.HttpRequest:
    headers = {"content-type": content_type} if content_type else {}
    return func.HttpRequest("POST", "http://localhost/api/presence/query", headers=headers, body=body)


def problem_of(call) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


def test_valid_body_is_parsed():
    assert parse_body(request(b'{"users": ["alice@contoso.test"]}'), PresenceQuery).users == [
        "alice@contoso.test"
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "field"),
    [
        (b'{"users": ["a@b.c"]}', "text/plain", 415, "unsupportedMediaType", None),
        (b'{"users": ["a@b.c"]}', None, 415, "unsupportedMediaType", None),
        (b"{not json", "application/json", 400, "invalidJson", None),
        (b"\xff\xfe", "application/json", 400, "invalidJson", None),
        (b'{"users": []}', "application/json", 400, "invalidRequest", "users"),
        (b'{"users": "alice@contoso.test"}', "application/json", 400, "invalidRequest", "users"),
        (b'{"users": ["a@b.c", 7]}', "application/json", 400, "invalidRequest", "users[1]"),
        (b'{"users": ["a@b.c"], "user": "typo"}', "application/json", 400, "invalidRequest", "user"),
        (b"{}", "application/json", 400, "invalidRequest", "users"),
        (b"[]", "application/json", 400, "invalidRequest", "body"),
    ],
)
def test_bad_bodies_are_4xx_naming_the_field(body, content_type, status, code, field):
    error = problem_of(lambda: parse_body(request(body, content_type), PresenceQuery))
    assert (error.status, error.code) == (status, code)
    if field:
        assert error.errors[0].field == field


def test_body_over_the_limit_is_413():
    body = json.dumps({"users": ["a@b.c"] * 20_000}).encode()
    error = problem_of(lambda: parse_body(request(body), PresenceQuery, max_bytes=64 * 1024))
    assert (error.status, error.code) == (413, "bodyTooLarge")


def test_too_many_users_is_a_400_on_users():
    body = json.dumps({"users": ["a@b.c"] * 10_001}).encode()
    error = problem_of(lambda: parse_body(request(body), PresenceQuery, max_bytes=1024 * 1024))
    assert (error.status, error.errors[0].field) == (400, "users")


async def test_service_errors_become_problem_json():
    @handle_errors
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        raise GRAPH_THROTTLED("slow down", retry_after=7)

    response = await handler(request(b""))
    body = json.loads(response.get_body())
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "7"
    assert body == {
        "type": "urn:presence-automation:problem:graphThrottled",
        "title": "Graph throttling",  # the catalog's: the kind of problem, not the HTTP phrase
        "status": 429,
        "detail": "slow down",
        "code": "graphThrottled",
    }


async def test_unexpected_errors_are_a_500_problem_that_reveals_nothing(caplog):
    @handle_errors
    async def handler(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("secret=hunter2")

    response = await handler(request(b""))
    body = json.loads(response.get_body())
    assert (response.status_code, body["code"]) == (500, "internalError")
    assert "hunter2" not in response.get_body().decode()


def test_json_response_is_utf8_json():
    response = json_response({"message": "Im Urlaub ☀"}, status=201)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body().decode("utf-8")) == {"message": "Im Urlaub ☀"}


def test_a_number_of_5000_digits_is_a_400_naming_its_field():
    from shared.api.models import SessionRequest

    digits = "9" * 5000
    for sign in ("", "-"):
        body = f'{{"availability": "Busy", "activity": "InACall", "durationMinutes": {sign}{digits}}}'
        error = problem_of(lambda body=body: parse_body(request(body.encode()), SessionRequest))
        assert (error.status, error.code, error.errors[0].field) == (400, "invalidRequest", "durationMinutes")


@pytest.mark.parametrize("depth", [1_000, 30_000])
def test_deep_nesting_is_a_400_not_a_recursion_error(depth):
    body = b'{"users": ' + b"[" * depth + b"]" * depth + b"}"
    error = problem_of(lambda: parse_body(request(body), PresenceQuery, max_bytes=1024 * 1024))
    assert error.status == 400
    assert error.code in {"invalidJson", "invalidRequest"}
    assert error.errors[0].field.startswith(("body", "users"))
