"""JSON ↔ protobuf, with the gateway's rules on top of protobuf's JSON mapping.

Out: lowerCamelCase names, every field printed (grpc-gateway's
``EmitUnpopulated``), so a client sees ``"count": 0`` rather than nothing.

In: both spellings (``displayName`` and ``display_name``). Unlike
grpc-gateway (``DiscardUnknown``), an unknown field is a 400 naming every
one, as Google's REST APIs answer: a typo must not be silently dropped,
least of all in a PATCH. Durations also accept ISO 8601 (``PT1H``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.values import canonical_duration

__all__ = ["WELL_KNOWN", "json_fields", "parse_json", "parse_value", "to_dict", "to_json"]

# Messages whose JSON form is not an object of their fields: not walked.
WELL_KNOWN = frozenset(
    {
        "google.protobuf.Any",
        "google.protobuf.Duration",
        "google.protobuf.Timestamp",
        "google.protobuf.FieldMask",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.Empty",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    }
)
_DURATION = "google.protobuf.Duration"


def to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def to_json(message: Message) -> bytes:
    body = to_dict(message)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@cache
def json_fields(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields by JSON name and by proto name."""
    out: dict[str, FieldDescriptor] = {}
    for fd in descriptor.fields:
        out[fd.name] = fd
        out[fd.json_name] = fd
    return out


def _is_map(fd: FieldDescriptor) -> bool:
    mt = fd.message_type
    return mt is not None and mt.GetOptions().map_entry


def _walk(value: Any, descriptor: Descriptor, prefix: str, unknown: list[str]) -> None:
    """Check a JSON object against ``descriptor``: collect unknown keys, rewrite durations."""
    if not isinstance(value, dict):
        return  # json_format reports the type error with a better message
    for key in list(value):
        fd = json_fields(descriptor).get(key)
        if fd is None:
            unknown.append(prefix + key)
            continue
        mt = fd.message_type
        if mt is None:
            continue
        item, path = value[key], f"{prefix}{key}"
        if _is_map(fd):
            value_fd = mt.fields_by_name["value"]
            if isinstance(item, dict):
                for k, v in item.items():
                    item[k] = _one(v, value_fd, f"{path}.{k}.", unknown)
        elif fd.is_repeated and isinstance(item, list):
            value[key] = [_one(v, fd, f"{path}[{i}].", unknown) for i, v in enumerate(item)]
        else:
            value[key] = _one(item, fd, f"{path}.", unknown)


def _one(item: Any, fd: FieldDescriptor, prefix: str, unknown: list[str]) -> Any:
    mt = fd.message_type
    if mt is None:
        return item
    if mt.full_name == _DURATION and isinstance(item, str):
        return canonical_duration(item) or item
    if mt.full_name not in WELL_KNOWN:
        _walk(item, mt, prefix, unknown)
    return item


def parse_json(
    raw: bytes,
    message: Message,
    where: str = "",
    on_keys: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Merge the JSON object ``raw`` into ``message``; 400 on any problem.

    ``where`` prefixes field names in errors (the body field, e.g. ``calendar``).
    ``on_keys`` sees the decoded object first (the PATCH mask is made from it).
    """
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request([(where, f"the body is not valid JSON: {exc}")], "INVALID_JSON") from None
    if not isinstance(value, dict):
        raise bad_request([(where, "the body must be a JSON object")], "INVALID_JSON")
    prefix = f"{where}." if where else ""
    unknown: list[str] = []
    _walk(value, cast(Descriptor, message.DESCRIPTOR), prefix, unknown)
    if unknown:
        raise bad_request([(u, "unknown field") for u in unknown], "UNKNOWN_FIELD")
    if on_keys is not None:
        on_keys(value)
    try:
        json_format.ParseDict(value, message)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as exc:
        raise bad_request([(where, _parse_message(exc))], "INVALID_JSON") from None


def parse_value(raw: bytes, where: str) -> Any:
    """A JSON body that is not an object (a repeated or scalar body field)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request([(where, f"the body is not valid JSON: {exc}")], "INVALID_JSON") from None


def _parse_message(exc: Exception) -> str:
    # json_format's messages name the field already ("Failed to parse startTime
    # field: ..."); keep them, trimmed, since they never contain request secrets.
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."
