import pytest
from msgraph.generated.models.o_data_errors.inner_error import InnerError
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from shared.platform.graph import READ_PRESENCE, WRITE_PRESENCE, _graph_error


def odata(status: int, code: str = "x", message: str = "m", headers: dict | None = None) -> ODataError:
    error = ODataError(
        error=MainError(code=code, message=message, inner_error=InnerError(request_id="rid-1"))
    )
    error.response_status_code = status
    error.response_headers = headers or {}
    return error


@pytest.mark.parametrize(
    ("status", "headers", "expected_status", "code", "retry_after"),
    [
        (429, {"Retry-After": "12"}, 429, "graphThrottled", "12"),
        (429, {}, 429, "graphThrottled", "30"),
        (503, {"retry-after": "5"}, 503, "graphUnavailable", "5"),
        (504, {}, 503, "graphUnavailable", "10"),
        (500, {}, 502, "graphError", None),
        (400, {}, 502, "graphError", None),
        (401, {}, 502, "graphAuthenticationFailed", None),
    ],
)
def test_graph_failures_map_to_the_contract(status, headers, expected_status, code, retry_after):
    error = _graph_error(odata(status, headers=headers), READ_PRESENCE)
    assert (error.status, error.code, error.headers.get("Retry-After")) == (
        expected_status,
        code,
        retry_after,
    )


def test_other_failures_carry_graphs_request_id():
    error = _graph_error(odata(500, headers={"request-id": "hdr-rid"}), READ_PRESENCE)
    assert "hdr-rid" in error.detail
    assert "rid-1" in _graph_error(odata(502), READ_PRESENCE).detail


def test_a_403_names_the_missing_application_permission():
    error = _graph_error(odata(403, "Authorization_RequestDenied"), WRITE_PRESENCE)
    assert (error.status, error.code) == (502, "graphPermissionMissing")
    assert "Presence.ReadWrite.All" in error.detail


def test_not_found_names_the_user_from_graphs_message():
    message = (
        "Resource 'nobody@contoso.test' does not exist or one of its queried reference-property objects..."
    )
    error = _graph_error(odata(404, "Request_ResourceNotFound", message), READ_PRESENCE)
    assert (error.status, error.code) == (404, "userNotFound")
    assert "nobody@contoso.test" in error.detail
