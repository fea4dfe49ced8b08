from hypothesis import given
from hypothesis import strategies as st

from shared.platform.keys import decode_key, encode_key

FORBIDDEN = set("/\\#?") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


@given(st.text())
def test_encoded_keys_never_hold_what_table_storage_forbids_and_decode_back(text):
    key = encode_key(text)
    assert not set(key) & FORBIDDEN
    assert decode_key(key) == text


def test_plain_upns_stay_readable():
    assert encode_key("alice@contoso.test") == "alice@contoso.test"
    assert encode_key("bob_x.com#EXT#@t.onmicrosoft.com") == "bob_x.com%23EXT%23@t.onmicrosoft.com"
