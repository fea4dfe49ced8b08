"""The service's one error family. Every failure a caller can see is a ServiceError with a stable `code`;
shared/api/http.py turns it into application/problem+json in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass
class ServiceError(Exception):
    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, object] = field(default_factory=dict)  # extra problem members, e.g. health checks

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


def invalid_field(code: str, field_name: str, message: str) -> ServiceError:
    """A 400 that names the offending field, e.g. invalid_field("invalidUser", "user", "...")."""
    return ServiceError(400, code, message, [FieldError(field_name, message)])


def user_not_found(user: str) -> ServiceError:
    return ServiceError(404, "userNotFound", f"No user '{user}' exists in the directory.")


def ambiguous_user(user: str) -> ServiceError:
    return ServiceError(
        409,
        "ambiguousUser",
        f"More than one user has the e-mail address '{user}'; name the user by UPN or object id.",
    )


def storage_unavailable(reason: str) -> ServiceError:
    return ServiceError(
        503, "storageUnavailable", f"Table storage is unavailable: {reason}", headers={"Retry-After": "10"}
    )
