"""The presence actions and types as Graph declares them, read from the CSDL extract next to this file."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CSDL_PATH = Path(__file__).with_name("presence.csdl.xml")


@dataclass(frozen=True)
class Member:
    """An action parameter or a complex-type property: its name, declared type and nullability."""

    name: str
    type: str  # as written in the CSDL: "Edm.String", "graph.itemBody", "Collection(Edm.String)"
    nullable: bool


@dataclass(frozen=True)
class Schema:
    actions: dict[str, dict[str, Member]]  # action name -> parameters (without bindingParameter)
    complex_types: dict[str, dict[str, Member]]  # qualified name ("graph.itemBody") -> properties
    enum_types: dict[str, frozenset[str]]  # qualified name -> member names
    alias: str  # "graph"
    namespace: str  # "microsoft.graph"

    def qualified(self, type_name: str) -> str:
        """ "microsoft.graph.itemBody" and "graph.itemBody" both name "graph.itemBody"."""
        prefix = self.namespace + "."
        return self.alias + "." + type_name[len(prefix) :] if type_name.startswith(prefix) else type_name


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _member(element: ET.Element) -> Member:
    return Member(
        name=element.attrib["Name"],
        type=element.attrib["Type"],
        # CSDL: Nullable defaults to true.
        nullable=element.attrib.get("Nullable", "true").lower() != "false",
    )


@cache
def schema(path: Path = CSDL_PATH) -> Schema:
    root = ET.parse(path).getroot()  # noqa: S314 - a file from this repository, not user input
    alias = root.attrib.get("Alias", "graph")
    namespace = root.attrib.get("Namespace", "microsoft.graph")
    actions: dict[str, dict[str, Member]] = {}
    complex_types: dict[str, dict[str, Member]] = {}
    enum_types: dict[str, frozenset[str]] = {}
    for element in root:
        kind = _local(element.tag)
        name = element.attrib.get("Name", "")
        if kind == "Action":
            params = [_member(p) for p in element if _local(p.tag) == "Parameter"]
            # A bound action's first parameter is what it is bound to, never part of the body.
            actions[name] = {p.name: p for p in params if p.name != "bindingParameter"}
        elif kind == "ComplexType":
            props = [_member(p) for p in element if _local(p.tag) == "Property"]
            complex_types[f"{alias}.{name}"] = {p.name: p for p in props}
        elif kind == "EnumType":
            enum_types[f"{alias}.{name}"] = frozenset(
                m.attrib["Name"] for m in element if _local(m.tag) == "Member"
            )
    return Schema(actions, complex_types, enum_types, alias, namespace)
