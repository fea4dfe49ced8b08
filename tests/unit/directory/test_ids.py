import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.directory.ids import parse_user
from shared.platform.errors import ServiceError


@pytest.mark.parametrize(
    ("given", "kind", "normalized"),
    [
        ("3F2504E0-4F89-11D3-9A0C-0305E82C3301", "id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        ("alice@contoso.test", "upn", "alice@contoso.test"),
        ("Alice.Smith@Contoso.com", "upn", "alice.smith@contoso.com"),
        ("o'brien+teams@sub.contoso.co.uk", "upn", "o'brien+teams@sub.contoso.co.uk"),
        ("john_gmail.com#EXT#@contoso.onmicrosoft.com", "upn", "john_gmail.com#ext#@contoso.onmicrosoft.com"),
    ],
)
def test_accepts_object_ids_and_upns(given, kind, normalized):
    ref = parse_user(given)
    assert (ref.given, ref.kind, ref.normalized) == (given, kind, normalized)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        "alice",
        "alice@",
        "@contoso.com",
        "alice@contoso",
        "a@b@contoso.com",
        "alice@-contoso.com",
        "../../etc/passwd",
        "alice@contoso.com/presence",
        "alice@contoso.com?x=1",
        ".alice@contoso.com",
        "al..ice@contoso.com",
        "alice smith@contoso.com",
        "alice@contoso.com\n",
        "3f2504e0-4f89-11d3-9a0c-0305e82c330",
        "x" * 65 + "@contoso.com",
        "a@" + "b" * 45 + ".com",
        "$batch",
        "alice%40contoso.com",
        None,
        42,
    ],
)
def test_refuses_anything_else_naming_the_field(bad):
    with pytest.raises(ServiceError) as caught:
        parse_user(bad, field="users[3]")
    assert caught.value.status == 400
    assert caught.value.code == "invalidUser"
    assert caught.value.errors[0].field == "users[3]"


@given(st.text(max_size=200))
def test_whatever_is_accepted_is_safe_in_a_url_path_segment(text):
    try:
        ref = parse_user(text)
    except ServiceError:
        return
    assert not set(ref.normalized) & set("/\\?%& \t\r\n")
    assert ref.given == text
