"""Table key encoding: the one place user input becomes a PartitionKey or RowKey."""

# Azure Table keys may not contain / \ # ? or control characters (U+0000-U+001F, U+007F-U+009F); we
# percent-encode those and % itself, so the encoding is reversible. It does not keep plain text's order
# ('a#' < 'a$', but 'a%23' > 'a$'): a range read over such keys sorts the encoded keys themselves.

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

_RECORD_ID = re.compile(r"[0-9a-f]{32}")

_FORBIDDEN = set("/\\#?%") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}


def encode_key(value: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ch in _FORBIDDEN else ch for ch in value)


def decode_key(key: str) -> str:
    # Only the characters above were encoded, each as one byte below U+00A0, hence latin-1.
    return unquote(key, encoding="latin-1")


def new_record_id() -> str:
    """A schedule's or watch's id: random, 32 lowercase hex digits, safe as a key as it is."""
    return uuid.uuid4().hex


def is_record_id(value: str) -> bool:
    """Whether `value` can be such an id: anything else is a 404 before it comes near a table."""
    return bool(_RECORD_ID.fullmatch(value))
