"""Who a request is about: a user's Entra object id (GUID) or UPN/e-mail, validated before any URL or key
is built from it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

from shared.platform.errors import INVALID_USER, ServiceError

# Entra ID: a UPN has at most 64 characters before the @ and 48 after it (113 in all); the local part
# allows letters, digits and ' . - _ ! # ^ ~ (guests carry #EXT#), and e-mail addresses add +.
_LOCAL = re.compile(r"[A-Za-z0-9'._\-!#^~+]{1,64}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class UserRef:
    """A validated user reference. `given` is what the caller wrote (echoed back as `user`)."""

    given: str
    kind: Literal["id", "upn"]
    normalized: str  # lower-case GUID or lower-case UPN: the cache key and the Graph path value

    @property
    def is_id(self) -> bool:
        return self.kind == "id"


def _is_upn(value: str) -> bool:
    if value.count("@") != 1 or len(value) > 113:
        return False
    local, domain = value.split("@")
    if not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    labels = domain.split(".")
    return len(domain) <= 48 and len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)


def parse_user(value: object, field: str = "user") -> UserRef:
    """Validate a user id or UPN; anything else is a 400 `invalidUser` naming `field`."""
    if not isinstance(value, str) or not value:
        raise INVALID_USER("A user must be an object id (GUID) or a UPN/e-mail.", field=field)
    text = value
    if _GUID.fullmatch(text):
        return UserRef(value, "id", str(uuid.UUID(text)))
    if _is_upn(text):
        return UserRef(value, "upn", text.lower())
    raise INVALID_USER(f"'{_shorten(text)}' is neither an object id (GUID) nor a UPN/e-mail.", field=field)


def valid_refs(values: list[str]) -> list[UserRef]:
    """The values that are user ids or UPNs; the others are answered as errors and never looked up."""
    refs = []
    for value in values:
        try:
            refs.append(parse_user(value))
        except ServiceError:
            continue
    return refs


def is_user_id(value: str) -> bool:
    return bool(_GUID.fullmatch(value))


def _shorten(text: str, limit: int = 80) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


__all__ = ["ServiceError", "UserRef", "is_user_id", "parse_user"]
