"""Typed records in and out of Table storage rows: one mapper for every store, which declares only where
its columns differ from the rule (a field `until` of a part `session` is the column `SessionUntil`)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Codec:
    """How one field is written to its columns and read back from the row, when its type does not say
    (JSON in a column, a key with a prefix, a value spread over two columns). `read` answers None when
    the row does not hold it."""

    write: Callable[[Any], dict[str, Any]]
    read: Callable[[Mapping[str, Any]], Any]


def cell(
    column: str, write: Callable[[Any], Any] = lambda v: v, read: Callable[[Any], Any] = lambda v: v
) -> Codec:
    """A codec for one column, its value converted each way (a missing or empty cell reads as None)."""
    return Codec(
        lambda value: {column: write(value)},
        lambda row: None if row.get(column) in (None, "") else read(row[column]),
    )


def utc(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (the SDK hands back its own datetime subclass)."""
    return datetime.fromtimestamp(value.timestamp(), UTC)


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of a hint such as `datetime | None`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else hint), True
    return hint, False


@dataclass
class RowMapper(Generic[T]):
    """Maps a frozen dataclass to a row's columns and back.

    Fields become PascalCase columns behind `prefix`; a field that is itself a dataclass becomes its
    fields' columns behind the field's name (or `parts[name]`'s own prefix), present when its first
    column is; a tuple field becomes one column per name in `tuples[name]`. `columns` renames a column,
    `codecs` writes and reads a field its own way, `skip` leaves a field to the store (keys, ETags).
    A None is not written; a missing column reads as the field's default."""

    cls: type[T]
    prefix: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    codecs: Mapping[str, Codec] = field(default_factory=dict)
    parts: Mapping[str, RowMapper[Any]] = field(default_factory=dict)
    tuples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(self.cls)
        self._fields = [
            (f, *_optional(hints[f.name])) for f in dataclasses.fields(self.cls) if f.name not in self.skip
        ]
        for f, kind, _ in self._fields:
            if dataclasses.is_dataclass(kind) and f.name not in self.parts and f.name not in self.codecs:
                self.parts = {**self.parts, f.name: RowMapper(kind, prefix=pascal(f.name))}  # type: ignore[arg-type]

    def column(self, name: str) -> str:
        return self.columns.get(name, self.prefix + pascal(name))

    def _tuple_columns(self, name: str) -> list[str]:
        return [self.column(name) + suffix for suffix in self.tuples[name]]

    def to_row(self, record: T) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for f, _, _ in self._fields:
            value = getattr(record, f.name)
            if value is None:
                continue
            if f.name in self.codecs:
                row |= self.codecs[f.name].write(value)
            elif f.name in self.parts:
                row |= self.parts[f.name].to_row(value)
            elif f.name in self.tuples:
                row |= dict(zip(self._tuple_columns(f.name), value, strict=True))
            else:
                row[self.column(f.name)] = value
        return row

    def present_in(self, row: Mapping[str, Any]) -> bool:
        """Whether the row holds this part: any of its plain columns is there."""
        return any(self.column(f.name) in row for f, _, _ in self._fields)

    def from_row(self, row: Mapping[str, Any], **given: Any) -> T:
        """The record a row holds; `given` supplies the skipped fields (keys, ETags)."""
        values: dict[str, Any] = dict(given)
        for f, kind, optional in self._fields:
            if optional and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                values[f.name] = None  # unless the row holds it (below)
            if f.name in self.codecs:
                value = self.codecs[f.name].read(row)
                if value is not None:
                    values[f.name] = value
                continue
            if f.name in self.parts:
                part = self.parts[f.name]
                if part.present_in(row):
                    values[f.name] = part.from_row(row)
                continue
            if f.name in self.tuples:
                names = self._tuple_columns(f.name)
                if names[0] in row:
                    item_types = typing.get_args(kind)
                    values[f.name] = tuple(t(row[n]) for t, n in zip(item_types, names, strict=True))
                continue
            cell = row.get(self.column(f.name))
            if cell is None:
                continue
            if kind is datetime:
                values[f.name] = utc(cell)
            elif kind in (bool, int):
                values[f.name] = kind(cell)
            else:
                values[f.name] = cell
        return self.cls(**values)
