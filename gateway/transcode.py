"""HTTP request → request message, in grpc-gateway's order.

1. the body (``*``: the whole message; a field: that field; an HttpBody
   field: the raw bytes and their Content-Type);
2. PATCH without a mask: the mask from the JSON keys sent;
3. the path variables, which overwrite body values;
4. the query parameters, unless the body is ``*``;
5. ``If-Match`` into the etag, ``Last-Event-ID`` into a stream's cursor.

Step 2 differs from grpc-gateway in one way: a nested JSON object gives its
top-level key, not dotted paths, because Almanac's update masks are
top-level (a message field is replaced as a whole; the services reject
nested paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from gateway.errors import bad_request, gateway_error
from gateway.marshal import json_fields, parse_json, parse_value
from gateway.metadata import Incoming
from gateway.query import ValueProblem, apply_query, parse_query_string, scalar_value
from gateway.routes import HTTP_BODY, Binding

__all__ = ["Transcoded", "build_request"]

# Parsed as JSON: JSON itself, and what curl -d and fetch() send by default
# (grpc-gateway ignores the header altogether for its JSON marshaler).
_JSON_TYPES = (
    b"application/json",
    b"application/merge-patch+json",
    b"text/json",
    b"text/plain",
    b"application/x-www-form-urlencoded",
)


@dataclass
class Transcoded:
    """The request message and what the response handling needs to know of it."""

    message: Message
    etag_from_header: bool = False


def _check_json(content_type: bytes | None) -> None:
    if content_type is None:
        return
    media = content_type.split(b";", 1)[0].strip().lower()
    if media and media not in _JSON_TYPES and not media.endswith(b"+json"):
        raise gateway_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"expected a JSON body, got {media.decode('latin-1')}",
            "UNSUPPORTED_MEDIA_TYPE", status_override=415,
        )  # fmt: skip


def _apply_body(
    binding: Binding, msg: Message, raw: bytes, content_type: bytes | None
) -> list[str]:
    """Fill the body part; returns the top-level keys sent (for the PATCH mask)."""
    keys: list[str] = []

    def collect(value: dict[str, Any]) -> None:
        fields = json_fields(msg.DESCRIPTOR if binding.body == "*" else sub_desc)
        keys.extend(str(fields[k].name) for k in value)

    fd = binding.body_field
    if binding.body == "*":
        _check_json(content_type)
        parse_json(raw, msg)
        return keys
    assert fd is not None
    if fd.message_type is not None and fd.message_type.full_name == HTTP_BODY:
        part = getattr(msg, fd.name)
        part.content_type = (content_type or b"application/octet-stream").decode("latin-1")
        part.data = raw
        return keys
    _check_json(content_type)
    if fd.message_type is not None:
        sub_desc = fd.message_type
        parse_json(raw, getattr(msg, fd.name), where=fd.json_name, on_keys=collect)
        return keys
    value = parse_value(raw, fd.json_name)
    try:
        json_format.ParseDict({fd.json_name: value}, msg)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise bad_request([(fd.json_name, str(exc))], "INVALID_JSON") from None
    return keys


def _set_path(msg: Message, path: str, value: str) -> None:
    target = msg
    parts = path.split(".")
    for part in parts[:-1]:
        target = getattr(target, part)
    fd = cast(FieldDescriptor, target.DESCRIPTOR.fields_by_name[parts[-1]])
    if fd.type == FieldDescriptor.TYPE_STRING:
        setattr(target, fd.name, value)
        return
    # A non-string path variable (an id number, an enum): its query form.
    try:
        setattr(target, fd.name, scalar_value(fd, value))
    except ValueProblem as exc:
        raise bad_request([(path, str(exc))], "BAD_PATH_VARIABLE") from None


def _etag_target(binding: Binding, msg: Message) -> Message | None:
    if "etag" in msg.DESCRIPTOR.fields_by_name:
        return msg
    fd = binding.body_field
    if fd is not None and fd.message_type is not None and "etag" in fd.message_type.fields_by_name:
        sub: Message = getattr(msg, fd.name)
        return sub
    return None


def build_request(
    binding: Binding,
    variables: Mapping[str, str],
    raw_body: bytes,
    query: bytes,
    content_type: bytes | None,
    incoming: Incoming,
) -> Transcoded:
    msg = binding.method.input_class()
    keys: list[str] = []
    if binding.body:
        keys = _apply_body(binding, msg, raw_body, content_type)
    if binding.mask_field is not None and keys:
        mask = getattr(msg, binding.mask_field)
        if not mask.paths:
            mask.paths.extend(dict.fromkeys(keys))
    for path, value in variables.items():
        _set_path(msg, path, value)
    if binding.body != "*" and query:
        apply_query(msg, parse_query_string(query), binding.bound_paths)
    out = Transcoded(msg)
    if incoming.if_match and incoming.if_match != "*":
        target = _etag_target(binding, msg)
        if target is not None:
            target.etag = incoming.if_match  # type: ignore[attr-defined]
            out.etag_from_header = True
    if incoming.if_none_match is not None:
        # A conditional GET: the request says which field holds it.
        conditional = msg.DESCRIPTOR.fields_by_name.get("if_none_match")
        if conditional is not None and conditional.type == FieldDescriptor.TYPE_STRING:
            msg.if_none_match = incoming.if_none_match  # type: ignore[attr-defined]
    if incoming.last_event_id and binding.method.server_streaming:
        cursor = msg.DESCRIPTOR.fields_by_name.get("cursor")
        if cursor is not None and cursor.type == FieldDescriptor.TYPE_STRING:
            msg.cursor = incoming.last_event_id  # type: ignore[attr-defined]
    return out
