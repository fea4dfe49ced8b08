"""The error catalog: every code the service can raise is in it once, and in the OpenAPI document and
the docs' errors table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared.api.openapi import swagger
from shared.platform import errors as errors_module
from shared.platform.errors import (
    CALLBACK_FAILED,
    CATALOG,
    INVALID_USER,
    STORAGE_UNAVAILABLE,
    ErrorKind,
    FieldError,
    ServiceError,
    _kind,
)

ROOT = Path(__file__).resolve().parents[3]
CATALOG_MODULE = ROOT / "shared" / "platform" / "errors.py"


def _sources() -> list[Path]:
    return sorted(p for d in ("shared", "functions") for p in (ROOT / d).rglob("*.py") if p != CATALOG_MODULE)


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_code_is_spelled_outside_the_catalog():
    """A code written as a string elsewhere (raised, compared or recorded) would escape the catalog."""
    spelled = [
        f"{path.relative_to(ROOT)}:{line}: {value}"
        for path in _sources()
        for line, value in _literals(path)
        if value in CATALOG
    ]
    assert spelled == []


def test_errors_are_made_from_the_catalog_only():
    """No ServiceError(...) outside the catalog module: every error is raised by its catalog name."""
    made = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"ServiceError", "ErrorKind"}
    ]
    assert made == []


def test_every_catalog_name_used_outside_exists():
    """Every upper-case name imported from the catalog is one of its kinds (a typo fails on import anyway;
    this also proves the scan above sees the raise sites)."""
    kinds = {name for name, value in vars(errors_module).items() if isinstance(value, ErrorKind)}
    imported = {
        alias.name
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "shared.platform.errors"
        for alias in node.names
        if alias.name.isupper()
    }
    assert imported <= kinds
    assert len(imported) > 30  # the raise sites are found by the scan


def test_each_code_is_in_the_catalog_once_with_a_status_and_a_title():
    kinds = list(CATALOG.values())
    assert len({k.code for k in kinds}) == len(kinds)
    for kind in kinds:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", kind.code), kind.code
        assert kind.status is None or 400 <= kind.status <= 599, kind.code
        assert 0 < len(kind.title) <= 40, kind.code
        assert not kind.title.endswith("."), kind.code
    with pytest.raises(ValueError, match="twice"):
        _kind("invalidUser", 400, "Invalid user")


def test_a_kind_makes_the_error_with_its_status_title_field_and_retry_after():
    error = INVALID_USER("Not a user.", field="user")
    assert (error.status, error.code, error.title) == (400, "invalidUser", "Invalid user")
    assert error.detail == "Not a user."
    assert error.errors == [FieldError("user", "Not a user.")]
    busy = STORAGE_UNAVAILABLE("down", retry_after=10, headers={"X-A": "b"}, extensions={"checks": {}})
    assert busy.headers == {"X-A": "b", "Retry-After": "10"}
    assert busy.extensions == {"checks": {}}


def test_a_service_error_outside_the_catalog_is_refused():
    with pytest.raises(ValueError, match="not in the error catalog"):
        ServiceError(400, "noSuchCode", "x")
    with pytest.raises(ValueError, match="not in the error catalog"):
        ServiceError(500, "invalidUser", "a catalog code with another status")
    assert ServiceError(400, "invalidUser", "x").title == "Invalid user"
    assert isinstance(INVALID_USER, ErrorKind)
    with pytest.raises(TypeError, match="lastError"):
        CALLBACK_FAILED("a receiver's failure is recorded, never answered")


def test_the_openapi_document_describes_every_code():
    description = swagger("example.test")["definitions"]["Problem"]["properties"]["code"]["description"]
    for kind in CATALOG.values():
        group = f"{kind.status}:" if kind.status else "lastError:"
        assert re.search(rf"{group} [^;]*\b{kind.code}\b", description), kind.code
