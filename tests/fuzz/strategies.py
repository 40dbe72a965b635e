"""Hypothesis strategies for any request message, built from its descriptor.

Every field gets random and boundary values of its type; strings are drawn
mostly from a pool of real resource names (the caller's and another
account's), malformed names and known troublemakers, so that requests get
past the first checks; Timestamps, Durations and FieldMasks get their own
edge values. A payload is the serialized message, sometimes mutated, or
plain garbage bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

__all__ = ["Pools", "payloads"]

MAX_DEPTH = 4
NOW = 1_780_000_000  # 2026
YEAR = 366 * 86400
MIN_TS, MAX_TS = -62_135_596_800, 253_402_300_799  # 0001-01-01, 9999-12-31T23:59:59
MAX_DURATION = 315_576_000_000

INT_EDGES = [0, 1, -1, 2, 7, 24, 59, 60, 100, 1000, 2**31 - 1, -(2**31), 2**32 - 1]
INT64_EDGES = [*INT_EDGES, 2**53, 2**63 - 1, -(2**63), MIN_TS, MAX_TS, MIN_TS - 1, MAX_TS + 1]
NANOS = [0, 1, 999_999_999, -1, 1_000_000_000, 2**31 - 1, -(2**31)]
TS_SECONDS = [
    0, NOW, MIN_TS, MAX_TS, MIN_TS - 1, MAX_TS + 1, 2**63 - 1, -(2**63),
    MIN_TS + 86400, MAX_TS - 86400, -1, 2**31, 2**32,
]  # fmt: skip
DUR_SECONDS = [
    0,
    1,
    -1,
    60,
    3600,
    86400,
    MAX_DURATION,
    -MAX_DURATION,
    MAX_DURATION + 1,
    2**63 - 1,
    -(2**63),
]
ODD_STRINGS = [
    "", " ", "*", "-", "..", "me", "primary", "\x00", "é", "😀", "x" * 300, "a" * 70_000,
    "http://[::1", "http://[::1]/x", "https://example.com/a.pdf", "mailto:a@example.com", "file:///etc/passwd",
    "Europe/Berlin", "UTC", "America/New_York", "Mars/Olympus", "Etc/GMT+14",
    "RRULE:FREQ=DAILY;COUNT=3", "RRULE:FREQ=SECONDLY", "RRULE:FREQ=YEARLY;BYSETPOS=-1;BYDAY=MO",
    "RRULE:FREQ=DAILY;UNTIL=99991231T235959Z", "EXDATE:00010101T000000Z",
    "RDATE;VALUE=DATE:99991231", "#4E9075", "#zzzzzz", "123e4567-e89b-12d3-a456-426614174000",
    "a@example.com", "BEGIN:VCALENDAR",
    "1h", "-5s", "315576000001s", "9999-12-31T23:59:59Z", "'; DROP TABLE events; --",
]  # fmt: skip
MALFORMED_NAMES = [
    "accounts", "accounts/", "accounts//calendars/x", "accounts/me",
    "accounts/me/calendars/primary", "accounts/UPPER", "accounts/-", "accounts/../x",
    "accounts/a/calendars/", "apiTokens/", "apiTokens/nope", "accounts/a/calendars/primary/events/",
    "accounts/a/calendars/primary/events/x_",
    "accounts/a/calendars/primary/events/x_99991231T235959Z", "accounts/a/activities/-1",
    "accounts/%2F/calendars/x", "accounts/a/calendars/b/schedules/c/d",
]  # fmt: skip


@dataclass
class Pools:
    """What strings the fuzzer prefers: real names, page tokens, mask paths."""

    names: list[str]
    page_tokens: list[str]

    def strings(self, field: FieldDescriptor) -> st.SearchStrategy[str]:
        text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
        if field.name == "page_token" and self.page_tokens:
            return st.one_of(st.sampled_from(self.page_tokens), text)
        return st.one_of(
            st.sampled_from(self.names),
            st.sampled_from(self.names),  # real names twice as often: deeper paths
            st.sampled_from(MALFORMED_NAMES + ODD_STRINGS),
            text,
        )


@cache
def _mask_paths() -> tuple[str, ...]:
    """Field names of every almanac message, some dotted: update masks to try."""
    pool = descriptor_pool.Default()
    paths = {"*", "name", "etag", "no_such_field", "start.date_time", "a.b.c"}
    for file_name in ("account_service", "calendar_service", "event_service", "common"):
        file = pool.FindFileByName(f"almanac/v1/{file_name}.proto")
        for message in file.message_types_by_name.values():
            paths.update(f.name for f in message.fields)
    return tuple(sorted(paths))


def _timestamp_like(seconds: Sequence[int], lo: int, hi: int) -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "seconds": st.one_of(
                st.sampled_from(seconds), st.integers(NOW - YEAR, NOW + YEAR), st.integers(lo, hi)
            ),
            "nanos": st.one_of(st.sampled_from(NANOS), st.integers(0, 999_999_999)),
        },
    )


_SPECIAL: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "google.protobuf.Timestamp": lambda: _timestamp_like(TS_SECONDS, -(2**63), 2**63 - 1),
    "google.protobuf.Duration": lambda: _timestamp_like(DUR_SECONDS, -MAX_DURATION, MAX_DURATION),
    "google.protobuf.FieldMask": lambda: st.fixed_dictionaries(
        {"paths": st.lists(st.sampled_from(_mask_paths()), max_size=4)}
    ),
}

_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1, INT_EDGES),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1, [e for e in INT_EDGES if e >= 0]),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1, INT64_EDGES),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1, [e for e in INT64_EDGES if e >= 0]),
}


def _scalar(field: FieldDescriptor, pools: Pools) -> st.SearchStrategy[Any]:
    cpp = field.cpp_type
    if cpp in _INT_RANGES:
        lo, hi, edges = _INT_RANGES[cpp]
        return st.one_of(
            st.sampled_from(edges),
            st.integers(-3, 1000).filter(lambda v: lo <= v),
            st.integers(lo, hi),
        )
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return st.floats(width=64 if cpp == FieldDescriptor.CPPTYPE_DOUBLE else 32)
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.sampled_from(numbers), st.integers(-2, 50))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    return pools.strings(field)


def _value(field: FieldDescriptor, pools: Pools, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        return _fields_of(field.message_type, pools, depth + 1)
    return _scalar(field, pools)


def _fields_of(desc: Descriptor, pools: Pools, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of field values (a message in json_format-free form)."""
    special = _SPECIAL.get(desc.full_name)
    if special is not None:
        return special()
    if depth > MAX_DEPTH:
        return st.just({})
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key = _scalar(field.message_type.fields_by_name["key"], pools)
            value = _value(field.message_type.fields_by_name["value"], pools, depth)
            optional[field.name] = st.dictionaries(key, value, max_size=3)
        elif field.is_repeated:
            optional[field.name] = st.lists(_value(field, pools, depth), max_size=3)
        else:
            optional[field.name] = _value(field, pools, depth)
    return st.fixed_dictionaries({}, optional=optional)


def build(message: Message, values: dict[str, Any]) -> Message:
    """Fill ``message`` from ``values``; values protobuf refuses are left out."""
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        try:
            _set(message, field, value)
        except (ValueError, TypeError):
            message.ClearField(name)
    return message


def _set(message: Message, field: FieldDescriptor, value: Any) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if value_field.message_type is not None:
                build(target[key], item)
            else:
                target[key] = item
    elif field.is_repeated:
        for item in value:
            if field.message_type is not None:
                build(target.add(), item)
            else:
                target.append(item)
    elif field.message_type is not None:
        target.SetInParent()
        build(target, value)
    else:
        setattr(message, field.name, value)


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for index, byte in edits:
        if out:
            out[index % len(out)] = byte
        else:
            out.append(byte)
    return bytes(out)


def payloads(
    desc: Descriptor, pools: Pools, aim: Callable[[Message], object]
) -> st.SearchStrategy[tuple[str, bytes, Message]]:
    """``(kind, bytes on the wire, the message)``: a request (half of them
    ``aim``ed at real resources, so they get past the name checks), a mutated
    one, or garbage."""
    cls = GetMessageClass(desc)
    messages = _fields_of(desc, pools, 0).map(lambda values: build(cls(), values))

    def aimed(message: Message) -> Message:
        aim(message)
        return message

    edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4)
    return st.integers(0, 19).flatmap(
        lambda kind: (
            st.binary(max_size=80).map(lambda b: ("garbage", b, cls()))
            if kind == 0
            else st.tuples(messages, edits).map(
                lambda me: ("mutated", _mutate(me[0].SerializeToString(), me[1]), me[0])
            )
            if kind == 1
            else messages.map(aimed).map(lambda m: ("request", m.SerializeToString(), m))
            if kind < 11
            else messages.map(lambda m: ("request", m.SerializeToString(), m))
        )
    )
