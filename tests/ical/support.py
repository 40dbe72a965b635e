"""Builders and helpers shared by the ICS tests."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, datetime_pb2

from connectors.errors import InvalidArgument
from connectors.ical import from_ics

DATA = Path(__file__).resolve().parent.parent / "data" / "ics"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def moment(args: tuple[int, ...], zone: tzinfo) -> datetime:
    y, m, d, hh, mm, ss = (*args, 0, 0, 0)[:6]
    return datetime(y, m, d, hh, mm, ss, tzinfo=zone)


def stamp(*args: int) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment(args, UTC))
    return ts


def at(zone: str, *args: int) -> common_pb2.EventTime:
    """A zoned EventTime for a wall-clock time in ``zone``."""
    local = moment(args, ZoneInfo(zone))
    ts = Timestamp()
    ts.FromDatetime(local.astimezone(UTC))
    return common_pb2.EventTime(date_time=ts, time_zone=zone)


def day(year: int, month: int, dom: int) -> common_pb2.EventTime:
    return common_pb2.EventTime(date=date_pb2.Date(year=year, month=month, day=dom))


def floating(*args: int) -> common_pb2.EventTime:
    y, m, d, hh, mm = args[:5]
    ss = args[5] if len(args) > 5 else 0
    value = datetime_pb2.DateTime(year=y, month=m, day=d, hours=hh, minutes=mm, seconds=ss)
    return common_pb2.EventTime(floating=value)


def utc_of(t: common_pb2.EventTime) -> datetime:
    return datetime.fromtimestamp(t.date_time.seconds, UTC)


def wall(t: common_pb2.EventTime) -> datetime:
    """The local wall time of a zoned EventTime (naive)."""
    return utc_of(t).astimezone(ZoneInfo(t.time_zone)).replace(tzinfo=None)


def problems(data: bytes, default_zone: str = "UTC") -> list[str]:
    """The violation descriptions ``from_ics`` raises for ``data``."""
    with pytest.raises(InvalidArgument) as caught:
        from_ics(data, default_zone=default_zone)
    assert caught.value.reason == "INVALID_ICS"
    assert all(field == "ics" for field, _ in caught.value.violations)
    return [description for _, description in caught.value.violations]


def single(**fields: object) -> ev_pb.Event:
    """A single timed event with the fields a server always fills in."""
    event = ev_pb.Event(
        ical_uid="single@example.com",
        start=at("Europe/Berlin", 2026, 5, 4, 9),
        end=at("Europe/Berlin", 2026, 5, 4, 10),
        recurrence_type=ev_pb.RECURRENCE_TYPE_SINGLE,
        update_time=stamp(2026, 1, 2, 3, 4, 5),
    )
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(event, name).extend(value)
        elif hasattr(value, "DESCRIPTOR"):
            getattr(event, name).CopyFrom(value)
        else:
            setattr(event, name, value)
    return event


def physical_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")
