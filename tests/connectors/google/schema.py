"""Google's discovery document for Calendar v3, as a validator of the fake.

The document is the one ``google-api-python-client`` ships and builds its
client from (``googleapiclient/discovery_cache/documents/calendar.v3.json``,
a dev dependency; the revision is in :data:`REVISION`). Every request the
fake receives (path, query parameters, body) and every response it sends is
checked against it; a violation is recorded and fails the test.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import googleapiclient

__all__ = ["DOCUMENT", "REVISION", "Method", "find_method", "validate"]

_PATH = Path(googleapiclient.__file__).parent / "discovery_cache/documents/calendar.v3.json"
DOCUMENT: dict[str, Any] = json.loads(_PATH.read_text())
REVISION = DOCUMENT["revision"]
_SCHEMAS: dict[str, Any] = DOCUMENT["schemas"]


class Method:
    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.spec = spec
        self.http = spec["httpMethod"]
        names = re.findall(r"{([^}]+)}", spec["path"])
        pattern = re.escape(spec["path"])
        for n in names:
            pattern = pattern.replace(re.escape("{" + n + "}"), f"(?P<{n}>[^/]+)")
        self.regex = re.compile(pattern + "$")

    def check_query(self, query: dict[str, list[str]]) -> list[str]:
        errors = []
        # The document's own global parameters (alt, fields, prettyPrint, ...) apply too.
        params = {**DOCUMENT.get("parameters", {}), **self.spec.get("parameters", {})}
        for key, values in query.items():
            spec = params.get(key)
            if spec is None or spec.get("location") != "query":
                errors.append(f"{self.name}: unknown query parameter {key!r}")
                continue
            if len(values) > 1 and not spec.get("repeated"):
                errors.append(f"{self.name}: {key} repeated")
            for value in values:
                errors.extend(f"{self.name}: {e}" for e in _check_param(key, value, spec))
        for key, spec in params.items():
            if spec.get("required") and spec.get("location") == "query" and key not in query:
                errors.append(f"{self.name}: missing required parameter {key}")
        return errors


def _check_param(key: str, value: str, spec: dict[str, Any]) -> list[str]:
    kind = spec.get("type")
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return [f"{key}={value!r} is not an integer"]
        n = int(value)
        if "minimum" in spec and n < int(spec["minimum"]):
            return [f"{key}={n} below {spec['minimum']}"]
        if "maximum" in spec and n > int(spec["maximum"]):
            return [f"{key}={n} above {spec['maximum']}"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{key}={value!r} is not a boolean"]
    if "enum" in spec and value not in spec["enum"]:
        return [f"{key}={value!r} not one of {spec['enum']}"]
    return []


_METHODS = [
    Method(f"{resource}.{name}", spec)
    for resource, body in DOCUMENT["resources"].items()
    for name, spec in body.get("methods", {}).items()
]


def find_method(http: str, path: str) -> tuple[Method, dict[str, str]] | None:
    """The method serving ``http path`` (path relative to ``calendar/v3/``)."""
    # Literal paths first, so users/me/calendarList is not calendarList/{id}.
    for method in sorted(_METHODS, key=lambda m: m.spec["path"].count("{")):
        if method.http == http and (match := method.regex.match(path)):
            return method, {k: v for k, v in match.groupdict().items()}
    return None


def validate(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Every way ``value`` breaks a discovery ``schema`` (``$ref`` resolved)."""
    if "$ref" in schema:
        return validate(value, _SCHEMAS[schema["$ref"]], where)
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        out = []
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                out.extend(validate(item, props[key], f"{where}.{key}"))
            elif extra is not None:
                out.extend(validate(item, extra, f"{where}[{key}]"))
            else:
                out.append(f"{where}: unknown field {key!r}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [
            e for i, v in enumerate(value) for e in validate(v, schema["items"], f"{where}[{i}]")
        ]
    return _scalar(value, schema, where)


def _scalar(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    kind, fmt = schema.get("type"), schema.get("format", "")
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {value!r}"]
        if fmt in ("int64", "uint64") and not re.fullmatch(r"-?\d+", value):
            return [f"{where}: {value!r} is not an {fmt} string"]
        if fmt == "date" and not _parses(date.fromisoformat, value):
            return [f"{where}: {value!r} is not a date"]
        if fmt == "date-time" and not (
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", value)
        ):
            return [f"{where}: {value!r} is not an RFC 3339 date-time"]
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer, got {value!r}"]
    elif kind == "boolean" and not isinstance(value, bool):
        return [f"{where}: expected a boolean, got {value!r}"]
    elif kind == "any":
        return []
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not one of {schema['enum']}"]
    return []


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True
