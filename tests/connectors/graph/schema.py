"""Graph payloads checked against Graph v1.0's own metadata.

The types come from ``../shared/schemas/graph_event_schema.json``, extracted
from ``microsoftgraph/msgraph-metadata`` ``clean_v10_metadata/cleanMetadata.xml``
(the commit is in its ``_source`` key); ``ALMANAC_GRAPH_SCHEMA`` points
elsewhere. It is read, never copied into this repository; a missing file
fails the tests that need it.

Checked: every property is declared on the type or one of its bases (OData
annotations ``@odata.*`` and a delta ``@removed`` aside; navigation
properties only where the caller allows them, i.e. an ``$expand``), the
primitive and enum values, collections, and non-nullable properties.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_PATH", "check"]

SCHEMA_PATH = Path(
    os.environ.get(
        "ALMANAC_GRAPH_SCHEMA",
        Path(__file__).resolve().parents[4] / "shared" / "schemas" / "graph_event_schema.json",
    )
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})")


@functools.cache
def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


def _lookup(name: str) -> tuple[str, dict[str, Any]] | None:
    schema = _schema()
    for kind in ("entityTypes", "complexTypes", "enumTypes"):
        if name in schema[kind]:
            return kind, schema[kind][name]
    return None


def _members(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Properties and navigation properties of a type, bases included."""
    props: dict[str, Any] = {}
    navigation: dict[str, Any] = {}
    current: str | None = name
    while current:
        found = _lookup(current)
        assert found is not None, f"no type {current} in the schema"
        spec = found[1]
        props.update(spec.get("properties", {}))
        navigation.update(spec.get("navigation", {}))
        current = spec.get("base")
    return props, navigation


def check(
    value: Any, type_name: str, path: str = "$", expand: frozenset[str] = frozenset()
) -> list[str]:
    """Every way ``value`` breaks the Graph type ``type_name`` (empty: none)."""
    if type_name.startswith("Edm."):
        return _primitive(value, type_name, path)
    found = _lookup(type_name)
    if found is None:
        return [f"{path}: unknown type {type_name}"]
    kind, spec = found
    if kind == "enumTypes":
        ok = isinstance(value, str) and value in spec["members"]
        return [] if ok else [f"{path}: {value!r} is not a {type_name}"]
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} object, got {type(value).__name__}"]
    props, navigation = _members(type_name)
    problems: list[str] = []
    for key, item in value.items():
        where = f"{path}.{key}"
        if key.startswith("@odata.") or key == "@removed":
            continue
        if key in navigation and key in expand:
            target = navigation[key]
            problems += _value(item, target["type"], target["collection"], True, where)
        elif key in props:
            p = props[key]
            problems += _value(item, p["type"], p["collection"], p["nullable"], where)
        else:
            problems.append(f"{where}: not a property of {type_name}")
    return problems


def _value(item: Any, type_name: str, collection: bool, nullable: bool, path: str) -> list[str]:
    if item is None:
        return [] if nullable else [f"{path}: must not be null"]
    if not collection:
        return check(item, type_name, path)
    if not isinstance(item, list):
        return [f"{path}: expected a collection"]
    problems: list[str] = []
    for i, element in enumerate(item):
        if element is None and not nullable:
            problems.append(f"{path}[{i}]: must not be null")
        elif element is not None:
            problems += check(element, type_name, f"{path}[{i}]")
    return problems


def _primitive(value: Any, type_name: str, path: str) -> list[str]:
    ok = {
        "Edm.String": lambda v: isinstance(v, str),
        "Edm.Boolean": lambda v: isinstance(v, bool),
        "Edm.Int32": lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31
        ),
        "Edm.Int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "Edm.Date": lambda v: isinstance(v, str) and bool(_DATE.fullmatch(v)),
        "Edm.DateTimeOffset": lambda v: isinstance(v, str) and bool(_OFFSET.fullmatch(v)),
    }.get(type_name)
    if ok is None:
        return []  # Edm types the event types do not use (Binary, Duration, ...) pass
    return [] if ok(value) else [f"{path}: {value!r} is not an {type_name}"]
