"""The time model: `almanac.v1.EventTime` <-> Python values, and its checks.

An `EventTime` is one of three kinds, and each maps to exactly one Python
type, so that code can never mix them up by accident (the bugs in anchors
(c) 1-2: all-day events shifting a day, a time zone silently ignored):

=========  ===========================  =====================================
kind       proto                        Python
=========  ===========================  =====================================
all-day    ``date``                     `datetime.date`
timed      ``date_time`` + time_zone    aware `datetime`, tzinfo = `ZoneInfo`
floating   ``floating``                 naive `datetime`
=========  ===========================  =====================================

A timed value is the *instant* of ``date_time`` shown in its IANA zone; the
zone matters because recurrences expand in it. Note that `datetime` is a
subclass of `date`: always test for `datetime` first (`kind_of` does).

Wall-clock times are mapped to instants the way RFC 5545 §3.3.5 maps a
DATE-TIME with a TZID: "If, based on the definition of the referenced time
zone, the local time described occurs more than once (when changing from
daylight to standard time), the DATE-TIME value refers to the first
occurrence of the referenced time. ... If the local time described does not
occur (when changing from standard to daylight time), the DATE-TIME value is
interpreted using the UTC offset before the gap in local times." That is
exactly PEP 495's ``fold=0``, which `localize` relies on.

Conversions raise `ValueError`; the ``validate_*`` helpers never raise and
return ``(field path, description)`` violations instead, ready for
`connectors.errors.InvalidArgument`.
"""

from __future__ import annotations

import enum
import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from almanac.v1 import common_pb2

__all__ = [
    "TimeKind",
    "TimeValue",
    "Violation",
    "datetime_from_timestamp",
    "from_proto",
    "get_zone",
    "is_before",
    "is_nonexistent",
    "kind_of",
    "localize",
    "proto_kind",
    "to_proto",
    "to_utc",
    "validate_event_time",
    "validate_start_end",
]

Violation = tuple[str, str]
"""``(field path, description)``, as `connectors.errors.InvalidArgument` takes."""

TimeValue = date | datetime
"""A `date` (all-day), an aware `datetime` (timed) or a naive one (floating)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


class TimeKind(enum.Enum):
    """The three kinds of `EventTime`; values are the proto oneof names."""

    ALL_DAY = "date"
    TIMED = "date_time"
    FLOATING = "floating"


def kind_of(value: TimeValue) -> TimeKind:
    """The kind of a Python time value."""
    if isinstance(value, datetime):
        return TimeKind.FLOATING if value.tzinfo is None else TimeKind.TIMED
    return TimeKind.ALL_DAY


def proto_kind(value: common_pb2.EventTime) -> TimeKind | None:
    """The kind of an `EventTime`, or None when no value is set."""
    which = value.WhichOneof("value")
    return None if which is None else TimeKind(which)


@functools.lru_cache(maxsize=1024)
def get_zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` of an IANA name; `ValueError` when unknown.

    Cached so that expanding thousands of series does not look the zone up
    each time (`ZoneInfo` caches too, but behind a lock and a key check).
    """
    if not name or name != name.strip():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # ZoneInfo also rejects absolute and relative paths with ValueError.
        raise ValueError(f"unknown time zone {name!r}") from exc


def datetime_from_timestamp(seconds: int, nanos: int = 0) -> datetime:
    """An aware UTC datetime from Timestamp fields (nanoseconds truncated to µs)."""
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS or not 0 <= nanos <= 999_999_999:
        raise ValueError("timestamp out of range (0001-01-01 to 9999-12-31)")
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def from_proto(value: common_pb2.EventTime, *, default_zone: str = "UTC") -> TimeValue:
    """The Python value of an `EventTime`.

    ``default_zone`` applies to a ``date_time`` without ``time_zone`` (the API
    default is the calendar's zone, else UTC). Raises `ValueError` for an
    unset, invalid or inconsistent value; `validate_event_time` says why in
    detail.
    """
    which = value.WhichOneof("value")
    if which == "date":
        if value.time_zone:
            raise ValueError("an all-day date has no time zone")
        d = value.date
        return date(d.year, d.month, d.day)
    if which == "date_time":
        zone = get_zone(value.time_zone or default_zone)
        instant = datetime_from_timestamp(value.date_time.seconds, value.date_time.nanos)
        try:
            return instant.astimezone(zone)
        except OverflowError as exc:
            raise ValueError("timestamp out of range in its time zone") from exc
    if which == "floating":
        if value.time_zone:
            raise ValueError("a floating time has no time zone")
        f = value.floating
        if f.WhichOneof("time_offset") is not None:
            raise ValueError("a floating time has no UTC offset or time zone")
        if not 0 <= f.nanos <= 999_999_999:
            raise ValueError("nanos must be 0-999999999")
        return datetime(f.year, f.month, f.day, f.hours, f.minutes, f.seconds, f.nanos // 1000)
    raise ValueError("one of date, date_time or floating is required")


def to_proto(value: TimeValue) -> common_pb2.EventTime:
    """The `EventTime` of a Python value (the inverse of `from_proto`).

    A timed value must carry a `ZoneInfo` (its key becomes ``time_zone``) or
    `datetime.UTC` (``time_zone`` "UTC"); a fixed offset names no zone a
    recurrence could expand in, so it is refused.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            out = common_pb2.EventTime()
            f = out.floating
            f.year, f.month, f.day = value.year, value.month, value.day
            f.hours, f.minutes, f.seconds = value.hour, value.minute, value.second
            f.nanos = value.microsecond * 1000
            return out
        zone = _zone_name(value.tzinfo)
        instant = value.astimezone(UTC)
        out = common_pb2.EventTime(time_zone=zone)
        delta = instant - _EPOCH
        out.date_time.seconds = delta.days * 86_400 + delta.seconds
        out.date_time.nanos = delta.microseconds * 1000
        return out
    out = common_pb2.EventTime()
    out.date.year, out.date.month, out.date.day = value.year, value.month, value.day
    return out


def _zone_name(tz: tzinfo) -> str:
    if isinstance(tz, ZoneInfo):
        return tz.key
    if tz is UTC:
        return "UTC"
    raise ValueError(f"a timed value needs an IANA zone (ZoneInfo), not {tz!r}")


def localize(wall: datetime, zone: tzinfo) -> datetime:
    """The instant of a wall-clock time in ``zone``, shown in ``zone``.

    RFC 5545 §3.3.5 (see the module docstring): an ambiguous time is its first
    occurrence, a nonexistent one uses the offset before the gap (so 02:30 in a
    02:00-03:00 gap becomes 03:30 daylight time). The result's wall clock is
    the real one, never the nonexistent input.
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def is_nonexistent(wall: datetime, zone: tzinfo) -> bool:
    """Whether a naive wall-clock time falls in a gap of ``zone`` (spring forward)."""
    if zone is UTC:
        return False
    aware = wall.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall.replace(fold=0)


def to_utc(value: TimeValue, floating_zone: tzinfo) -> datetime:
    """The UTC instant of a value, for range tests.

    All-day values start at local midnight and floating ones happen at their
    wall-clock time, both in ``floating_zone`` (the calendar's zone); timed
    values are already instants.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return value.replace(tzinfo=floating_zone, fold=0).astimezone(UTC)
    midnight = datetime(value.year, value.month, value.day)
    return midnight.replace(tzinfo=floating_zone).astimezone(UTC)


def validate_event_time(value: common_pb2.EventTime, field: str) -> list[Violation]:
    """Violations of one `EventTime` (``field`` is its path, e.g. ``event.start``)."""
    which = value.WhichOneof("value")
    if which is None:
        return [(field, "one of date, date_time or floating is required")]
    out: list[Violation] = []
    if which == "date":
        if value.time_zone:
            out.append((f"{field}.time_zone", "must be empty for an all-day date"))
        d = value.date
        if not _is_valid_date(d.year, d.month, d.day):
            out.append((f"{field}.date", f"invalid date {d.year:04d}-{d.month:02d}-{d.day:02d}"))
    elif which == "date_time":
        ts = value.date_time
        if not _MIN_SECONDS <= ts.seconds <= _MAX_SECONDS or not 0 <= ts.nanos <= 999_999_999:
            out.append((f"{field}.date_time", "must be between 0001-01-01 and 9999-12-31"))
        if value.time_zone:
            try:
                zone = get_zone(value.time_zone)
            except ValueError:
                out.append((f"{field}.time_zone", f"unknown time zone {value.time_zone!r}"))
            else:
                if not out:
                    try:
                        datetime_from_timestamp(ts.seconds, ts.nanos).astimezone(zone)
                    except OverflowError:
                        out.append((f"{field}.date_time", "out of range in its time zone"))
    else:
        out.extend(_floating_violations(value, field))
    return out


def _floating_violations(value: common_pb2.EventTime, field: str) -> list[Violation]:
    out: list[Violation] = []
    path = f"{field}.floating"
    if value.time_zone:
        out.append((f"{field}.time_zone", "must be empty for a floating time"))
    f = value.floating
    if f.WhichOneof("time_offset") is not None:
        out.append((path, "a floating time must not carry a UTC offset or time zone"))
    if not _is_valid_date(f.year, f.month, f.day):
        out.append((path, f"invalid date {f.year:04d}-{f.month:02d}-{f.day:02d}"))
    # google.type.DateTime allows 24:00 and leap seconds as API options; a
    # calendar time is an ordinary time of day.
    if not (0 <= f.hours <= 23 and 0 <= f.minutes <= 59 and 0 <= f.seconds <= 59):
        out.append((path, f"invalid time {f.hours:02d}:{f.minutes:02d}:{f.seconds:02d}"))
    if not 0 <= f.nanos <= 999_999_999:
        out.append((f"{path}.nanos", "must be 0-999999999"))
    return out


def _is_valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def validate_start_end(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    *,
    field: str = "event",
    default_zone: str = "UTC",
) -> list[Violation]:
    """Violations of an event's ``start`` and optional ``end``.

    Each must be valid; ``end`` must be of the same kind as ``start`` and not
    before it (equal is allowed: a zero-length event).
    """
    out = validate_event_time(start, f"{field}.start")
    if end is None:
        return out
    end_out = validate_event_time(end, f"{field}.end")
    out.extend(end_out)
    if out:
        return out
    start_value = from_proto(start, default_zone=default_zone)
    end_value = from_proto(end, default_zone=default_zone)
    start_kind = kind_of(start_value)
    if start_kind is not kind_of(end_value):
        out.append((f"{field}.end", f"must be the same kind as start ({start_kind.value})"))
    elif is_before(end_value, start_value):
        out.append((f"{field}.end", "must not be before start"))
    return out


def is_before(a: TimeValue, b: TimeValue) -> bool:
    """``a < b`` for two values of the same kind (`TypeError` otherwise)."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a < b
    if isinstance(a, datetime) or isinstance(b, datetime):
        raise TypeError("cannot compare a date with a date-time")
    return a < b
