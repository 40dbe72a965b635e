"""EventTime <-> iCalendar DATE / DATE-TIME values.

The three EventTime kinds are RFC 5545's three forms (section 3.3.5):

* ``date``       <-> ``VALUE=DATE``
* ``date_time``  <-> a local time with ``TZID=<zone>``, or ``Z`` for UTC
                     (``time_zone`` ``UTC``, or empty: no zone recorded)
* ``floating``   <-> a local time without TZID or ``Z``

Local times are resolved like RFC 5545 says: an ambiguous time (the repeated
hour in autumn) is the first of the two instants, and a time in the spring
gap uses the offset from before the gap; zoneinfo's ``fold=0`` does both.
ICS has second precision: sub-second parts of timestamps are dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from almanac.v1 import common_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, datetime_pb2

__all__ = [
    "UTC_ZONES",
    "UnknownZone",
    "add_duration",
    "conform",
    "from_ical_value",
    "instant",
    "kind",
    "timestamp",
    "to_datetime",
    "to_ical_value",
    "zone",
]

# Zones written with the UTC designator "Z" instead of a TZID. Read back,
# "Z" is always "UTC".
UTC_ZONES = frozenset({"", "UTC"})


class UnknownZone(ValueError):
    """A time zone name that is not a known IANA zone."""


@lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    """The IANA zone ``name``; raises UnknownZone."""
    if name in UTC_ZONES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownZone(f"unknown time zone {name!r}") from exc


def kind(t: common_pb2.EventTime) -> str | None:
    """``date``, ``date_time``, ``floating`` or None when unset."""
    return t.WhichOneof("value")


def to_datetime(ts: Timestamp) -> datetime:
    return datetime.fromtimestamp(ts.seconds, UTC)


def timestamp(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt.astimezone(UTC).replace(microsecond=0))
    return ts


def _from_date(d: date) -> common_pb2.EventTime:
    return common_pb2.EventTime(date=date_pb2.Date(year=d.year, month=d.month, day=d.day))


def _from_floating(dt: datetime) -> common_pb2.EventTime:
    floating = datetime_pb2.DateTime(
        year=dt.year,
        month=dt.month,
        day=dt.day,
        hours=dt.hour,
        minutes=dt.minute,
        seconds=dt.second,
    )
    return common_pb2.EventTime(floating=floating)


def _from_instant(dt: datetime, zone_name: str) -> common_pb2.EventTime:
    return common_pb2.EventTime(date_time=timestamp(dt), time_zone=zone_name)


def _wall(t: common_pb2.EventTime) -> datetime:
    f = t.floating
    return datetime(f.year, f.month, f.day, f.hours, f.minutes, f.seconds)


def to_ical_value(t: common_pb2.EventTime) -> tuple[date | datetime, str | None]:
    """The iCalendar value and its TZID (None: no TZID parameter).

    Zoned times are returned naive with the TZID, so that the TZID is exactly
    the stored zone name (icalendar would rename UTC-equivalent zones).
    Raises ValueError for an unset EventTime and UnknownZone.
    """
    which = kind(t)
    if which == "date":
        return date(t.date.year, t.date.month, t.date.day), None
    if which == "floating":
        return _wall(t), None
    if which == "date_time":
        at = to_datetime(t.date_time)
        if t.time_zone in UTC_ZONES:
            return at, None
        return at.astimezone(zone(t.time_zone)).replace(tzinfo=None), t.time_zone
    raise ValueError("the time has no value")


def from_ical_value(value: date | datetime, zone_name: str | None) -> common_pb2.EventTime:
    """An EventTime from a parsed value and the IANA zone its TZID names.

    ``zone_name`` is the resolved zone of the TZID parameter (None without
    one). Aware values without a TZID (built in process) keep their zone.
    """
    if not isinstance(value, datetime):
        return _from_date(value)
    wall = value.replace(tzinfo=None)
    if zone_name is not None:
        return _from_instant(wall.replace(tzinfo=zone(zone_name)), zone_name)
    if value.tzinfo is None:
        return _from_floating(value)
    key = getattr(value.tzinfo, "key", None)
    if value.utcoffset() == timedelta(0) and (key is None or key in {"UTC", "Etc/UTC"}):
        return _from_instant(value, "UTC")
    if isinstance(key, str):
        return _from_instant(value, key)
    return _from_instant(value, "UTC")


def instant(t: common_pb2.EventTime, floating_zone: str) -> datetime:
    """The instant a time stands for; dates and floating times are read in
    ``floating_zone`` (the reader's zone), dates at midnight."""
    which = kind(t)
    if which == "date_time":
        return to_datetime(t.date_time)
    if which == "date":
        d = t.date
        return datetime(d.year, d.month, d.day, tzinfo=zone(floating_zone))
    return _wall(t).replace(tzinfo=zone(floating_zone))


def conform(
    t: common_pb2.EventTime, like: common_pb2.EventTime, floating_zone: str
) -> common_pb2.EventTime:
    """``t`` as the same kind (and zone) as ``like``.

    RDATE, EXDATE and RECURRENCE-ID must have the value type of the DTSTART
    they refer to (RFC 5545 sections 3.8.5.1-3). A date becomes ``like``'s
    time of day on that date; a time becomes its date in its own zone.
    Floating and zoned times meet in ``like``'s zone when it has one, else in
    ``floating_zone``.
    """
    which, target = kind(t), kind(like)
    if which == target and (target != "date_time" or t.time_zone == like.time_zone):
        return t
    if target == "date":
        if which == "date_time":
            local = to_datetime(t.date_time).astimezone(zone(t.time_zone))
            return _from_date(local.date())
        return _from_date(_wall(t).date())
    if target == "date_time":
        target_zone = zone(like.time_zone)
        if which == "date_time":
            return _from_instant(to_datetime(t.date_time), like.time_zone)
        if which == "date":
            clock = to_datetime(like.date_time).astimezone(target_zone).time()
            wall = datetime.combine(_date_of(t), clock)
        else:
            wall = _wall(t)
        return _from_instant(wall.replace(tzinfo=target_zone), like.time_zone)
    # Floating target.
    clock = _wall(like).time()
    if which == "date":
        return _from_floating(datetime.combine(_date_of(t), clock))
    local = to_datetime(t.date_time).astimezone(zone(floating_zone))
    return _from_floating(local.replace(tzinfo=None))


def _date_of(t: common_pb2.EventTime) -> date:
    return date(t.date.year, t.date.month, t.date.day)


def add_duration(t: common_pb2.EventTime, delta: timedelta) -> common_pb2.EventTime:
    """``t`` plus an iCalendar duration.

    Days are nominal (RFC 5545 section 3.3.6: "P1D" is the same local time
    the next day, even across a DST change); the rest is exact. Dates take
    whole days only (a partial day rounds up: the event covers that day).
    """
    which = kind(t)
    days = delta.days
    rest = delta - timedelta(days=days)
    if which == "date":
        return _from_date(_date_of(t) + timedelta(days=days + (1 if rest else 0)))
    if which == "floating":
        return _from_floating(_wall(t) + delta)
    tz = zone(t.time_zone)
    local = to_datetime(t.date_time).astimezone(tz).replace(tzinfo=None)
    moved = (local + timedelta(days=days)).replace(tzinfo=tz)
    return _from_instant(moved.astimezone(UTC) + rest, t.time_zone)
