"""What every request goes through before its servicer sees it.

* `tolerant_deserializer`: bytes that do not decode as the request message
  become an `Undecodable` marker instead of an exception inside grpc (which
  would answer UNKNOWN); `check_request` turns the marker into
  INVALID_ARGUMENT, after authentication, so an anonymous client learns
  nothing more than UNAUTHENTICATED.
* `check_request` also validates every ``Timestamp`` and ``Duration``
  anywhere in the request, once, for every RPC: servicers and connectors can
  then convert them and do datetime arithmetic without ValueError or
  OverflowError. The limits are documented in
  ``protos/almanac/v1/common.proto``. Such a request is refused before its
  servicer runs, so its BadRequest names only these fields. Dates and times
  of day are left to the servicers, which check them with the rest of the
  request (one BadRequest for everything); the fuzzer keeps them honest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from connectors.errors import InvalidArgument

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_INSTANT",
    "MIN_INSTANT",
    "Undecodable",
    "check_request",
    "saturating_add",
    "tolerant_deserializer",
    "well_known_violations",
]

# Instants a request may carry: what Timestamp itself defines (and datetime
# holds), 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. Code that
# computes from an instant (a default window after it) saturates at these
# edges (`saturating_add`) instead of overflowing.
MIN_INSTANT = -62_135_596_800
MAX_INSTANT = 253_402_300_799
# Durations: at most 10,000 years either way (the range Duration itself defines).
MAX_DURATION_SECONDS = 315_576_000_000
_NANOS = 999_999_999
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def saturating_add(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``moment + delta`` (an aware UTC datetime), kept between the accepted
    instants `MIN_INSTANT` and `MAX_INSTANT`.

    For defaults computed from an accepted instant (a window of a year after
    it): the sum may not fit in a datetime, and the edge is then the natural
    answer.
    """
    low = _EPOCH + dt.timedelta(seconds=MIN_INSTANT)
    high = _EPOCH + dt.timedelta(seconds=MAX_INSTANT)
    try:
        moved = moment + delta
    except OverflowError:
        return high if delta > dt.timedelta(0) else low
    return min(max(moved, low), high)


class Undecodable:
    """A request whose bytes did not decode as its message."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def tolerant_deserializer(
    deserialize: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """``deserialize`` that returns `Undecodable` instead of raising."""
    if deserialize is None:
        return None
    inner = deserialize

    def decode(data: bytes) -> Any:
        try:
            return inner(data)
        except (DecodeError, ValueError, RuntimeError) as exc:  # upb raises DecodeError
            return Undecodable(type(exc).__name__)

    return decode


def check_request(request: Any) -> None:
    """Raise INVALID_ARGUMENT for an undecodable request or a bad time value in it."""
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            "the request bytes do not decode as the request message",
            violations=[("", "the request is not a valid protobuf encoding of its message")],
            reason="UNDECODABLE_REQUEST",
        )
    if isinstance(request, Message):
        violations = list(well_known_violations(request))
        if violations:
            raise InvalidArgument("a time value is out of range", violations=violations)


def well_known_violations(message: Message, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(field path, problem)`` for every out-of-range time value in ``message``."""
    for field, value in message.ListFields():
        if field.message_type is None or not _may_hold_time(field.message_type):
            continue
        path = f"{prefix}{field.name}"
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                for key, item in value.items():
                    yield from _one(value_field, item, f"{path}[{key!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _one(field, item, f"{path}[{index}]")
        else:
            yield from _one(field, value, path)


def _one(field: FieldDescriptor, value: Message, path: str) -> Iterator[tuple[str, str]]:
    kind = field.message_type
    check = _CHECKS.get(kind.full_name) if kind is not None else None
    if check is None:
        yield from well_known_violations(value, f"{path}.")
        return
    problem = check(value)
    if problem:
        yield path, problem


def _timestamp(value: Any) -> str:
    if not MIN_INSTANT <= value.seconds <= MAX_INSTANT:
        return (
            "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z "
            f"(seconds {MIN_INSTANT} to {MAX_INSTANT}); got seconds={value.seconds}"
        )
    if not 0 <= value.nanos <= _NANOS:
        return f"nanos must be between 0 and {_NANOS}; got {value.nanos}"
    return ""


def _duration(value: Any) -> str:
    if not -MAX_DURATION_SECONDS <= value.seconds <= MAX_DURATION_SECONDS:
        return f"seconds must be between -{MAX_DURATION_SECONDS} and {MAX_DURATION_SECONDS}"
    if not -_NANOS <= value.nanos <= _NANOS:
        return f"nanos must be between -{_NANOS} and {_NANOS}; got {value.nanos}"
    if value.seconds * value.nanos < 0:
        return "seconds and nanos must have the same sign"
    return ""


_CHECKS: dict[str, Callable[[Any], str]] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.Duration": _duration,
}

# Message type -> whether a Timestamp or Duration can occur anywhere inside
# it. Walking a request only down such fields keeps the check cheap for the
# many requests (names, page tokens, masks) that hold none.
_HOLDS_TIME: dict[Descriptor, bool] = {}


def _may_hold_time(kind: Descriptor) -> bool:
    known = _HOLDS_TIME.get(kind)
    if known is None:
        known = _HOLDS_TIME[kind] = _search(kind, set())
    return known


def _search(kind: Descriptor, seen: set[Descriptor]) -> bool:
    if kind.full_name in _CHECKS:
        return True
    seen.add(kind)  # recursive types: a cycle adds nothing new
    return any(
        field.message_type is not None
        and field.message_type not in seen
        and _search(field.message_type, seen)
        for field in kind.fields
    )
