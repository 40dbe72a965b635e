"""Query parameters → request fields (grpc-gateway's ``runtime/query.go``).

A key is a dotted path through singular message fields, each step by proto
or JSON name (``timeRange.startTime`` = ``time_range.start_time``). Repeated
fields take repeated keys (``?a=1&a=2``), maps ``key[k]=v``. Enums by name
or number; Timestamp RFC 3339; Duration ``3600s`` or ISO 8601 ``PT1H``;
FieldMask comma-separated; wrappers by value.

Keys that name no field are ignored, as grpc-gateway does (a proxy or a
cache-buster may add some); a field already bound by the path or the body is
skipped. A bad value, a scalar given twice or a oneof set twice is a 400
naming the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import parse_qsl

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.marshal import json_fields
from gateway.values import canonical_duration

__all__ = ["ValueProblem", "apply_query", "parse_query_string", "scalar_value"]

FD = FieldDescriptor
_INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_MAP_KEY = re.compile(r"(.+)\[([^\]]*)\]")
_CAMEL = re.compile(r"(?<!^)([A-Z])")


class ValueProblem(ValueError):
    """A value that does not fit its field; the message says why."""


def parse_query_string(raw: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    except ValueError as exc:
        raise bad_request([("", f"malformed query string: {exc}")], "BAD_QUERY") from None


def apply_query(
    message: Message, params: Iterable[tuple[str, str]], bound: Collection[str]
) -> None:
    """Set the fields named by ``params`` on ``message``, skipping ``bound`` paths."""
    seen: set[str] = set()
    problems: list[tuple[str, str]] = []
    for key, value in params:
        try:
            _apply_one(message, key, value, bound, seen)
        except ValueProblem as exc:
            problems.append((key, str(exc)))
    if problems:
        raise bad_request(problems, "BAD_QUERY_PARAMETER")


def _resolve(message: Message, key: str) -> tuple[Message, FieldDescriptor, str, str] | None:
    """The message holding the field named by ``key``, the field, its proto path, map key."""
    map_key = ""
    found = _MAP_KEY.fullmatch(key)
    if found:
        key, map_key = found.group(1), found.group(2)
    parts = key.split(".")
    target, path = message, []
    for i, part in enumerate(parts):
        fd = json_fields(target.DESCRIPTOR).get(part)
        if fd is None:
            return None
        path.append(fd.name)
        if i == len(parts) - 1:
            return target, fd, ".".join(path), map_key
        if fd.message_type is None or fd.is_repeated:
            raise ValueProblem("only singular message fields can be traversed with '.'")
        target = getattr(target, fd.name)
    return None


def _apply_one(
    message: Message, key: str, value: str, bound: Collection[str], seen: set[str]
) -> None:
    resolved = _resolve(message, key)
    if resolved is None:
        return
    target, fd, path, map_key = resolved
    if any(path == b or path.startswith(b + ".") or b.startswith(path + ".") for b in bound):
        return
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        if not map_key:
            raise ValueProblem("a map field takes 'name[key]=value'")
        entries = getattr(target, fd.name)
        val_fd = fd.message_type.fields_by_name["value"]
        key_fd = fd.message_type.fields_by_name["key"]
        if val_fd.message_type is not None:
            raise ValueProblem("map values of message type cannot be set from the query")
        entries[scalar_value(key_fd, map_key)] = scalar_value(val_fd, value)
        return
    if fd.is_repeated:
        container = getattr(target, fd.name)
        if fd.message_type is not None:
            container.append(_message_value(fd, value))
        else:
            container.append(scalar_value(fd, value))
        return
    if path in seen:
        raise ValueProblem("given more than once")
    seen.add(path)
    oneof = fd.containing_oneof
    if oneof is not None and target.WhichOneof(oneof.name) not in (None, fd.name):
        raise ValueProblem(f"another field of oneof '{oneof.name}' is already set")
    if fd.message_type is not None:
        getattr(target, fd.name).CopyFrom(_message_value(fd, value))
    else:
        setattr(target, fd.name, scalar_value(fd, value))


def scalar_value(fd: FieldDescriptor, text: str) -> Any:
    kind = fd.type
    if kind == FD.TYPE_STRING:
        return text
    if kind == FD.TYPE_BOOL:
        if text in ("true", "True", "1"):
            return True
        if text in ("false", "False", "0", ""):
            return False
        raise ValueProblem(f"expected true or false, got {text!r}")
    if kind in _INT_RANGES:
        try:
            number = int(text)
        except ValueError:
            raise ValueProblem(f"expected an integer, got {text!r}") from None
        low, high = _INT_RANGES[kind]
        if not low <= number <= high:
            raise ValueProblem(f"{number} is out of range")
        return number
    if kind in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        try:
            number_f = float(text)
        except ValueError:
            raise ValueProblem(f"expected a number, got {text!r}") from None
        if kind == FD.TYPE_FLOAT and math.isfinite(number_f) and abs(number_f) > 3.4028234e38:
            raise ValueProblem(f"{text} is out of range for a float")
        return number_f
    if kind == FD.TYPE_ENUM:
        return _enum(fd, text)
    if kind == FD.TYPE_BYTES:
        try:
            padded = text + "=" * (-len(text) % 4)
            return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueProblem("expected base64") from None
    raise ValueProblem("this field cannot be set from the query")


def _enum(fd: FieldDescriptor, text: str) -> int:
    enum = fd.enum_type
    assert enum is not None
    by_name = enum.values_by_name.get(text)
    if by_name is not None:
        return int(by_name.number)
    try:
        number = int(text)
    except ValueError:
        names = ", ".join(v.name for v in enum.values)
        raise ValueProblem(f"{text!r} is not one of {names}") from None
    if number not in enum.values_by_number:
        raise ValueProblem(f"{number} is not a value of {enum.name}")
    return number


def _message_value(fd: FieldDescriptor, text: str) -> Message:
    """A well-known-type message from its query form."""
    mt = fd.message_type
    assert mt is not None
    msg = message_factory.GetMessageClass(mt)()
    name = mt.full_name
    if name == "google.protobuf.Duration":
        text = canonical_duration(text) or text
        value: Any = text
    elif name == "google.protobuf.FieldMask":
        paths = [p.strip() for p in text.split(",") if p.strip()]
        value = ",".join(_CAMEL.sub(lambda m: "_" + m.group(1).lower(), p) for p in paths)
        msg.paths.extend(value.split(",") if value else [])  # type: ignore[attr-defined]
        return msg
    elif name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueProblem("expected JSON") from None
    elif name.startswith("google.protobuf.") and name.endswith("Value"):
        value = _wrapper(mt.fields_by_name["value"], text)
    elif name == "google.protobuf.Timestamp":
        value = text
    else:
        raise ValueProblem(f"a {mt.name} cannot be given as one value; set its fields with '.'")
    try:
        json_format.ParseDict(value, msg)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise ValueProblem(str(exc)) from None
    return msg


def _wrapper(fd: FieldDescriptor, text: str) -> Any:
    if fd.type == FD.TYPE_BYTES:
        return text
    if fd.type in (FD.TYPE_INT64, FD.TYPE_UINT64):
        return str(scalar_value(fd, text))
    return scalar_value(fd, text)
