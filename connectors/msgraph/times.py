"""``EventTime`` <-> Graph ``dateTimeTimeZone``.

Writes send the wall time in the event's own zone under its Windows name,
so Graph expands a series in that zone across DST. Reads ask for UTC
(``Prefer: outlook.timezone="UTC"``, see :mod:`.client`): every instant
arrives in one zone and converts without guessing, and the event's zone
comes from ``originalStartTimeZone``. Graph's datetimes have seven
fractional digits and no offset ("2026-11-02T09:00:00.0000000").
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from almanac.v1 import common_pb2

from connectors.errors import InvalidArgument
from connectors.recurrence.times import from_proto, to_proto

from .zones import iana_to_windows, windows_to_iana

__all__ = ["format_graph", "local_start", "parse_graph", "read_time", "write_time"]

TimeValue = date | datetime


def format_graph(wall: datetime | date) -> str:
    """Graph's datetime text of a wall time (no offset, seven fractional digits)."""
    if not isinstance(wall, datetime):
        wall = datetime(wall.year, wall.month, wall.day)
    return wall.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wall.microsecond * 10:07d}"


def parse_graph(text: str) -> datetime:
    """A naive wall time from Graph's datetime text (any number of fractional digits)."""
    head, _, fraction = text.rstrip("Z").partition(".")
    wall = datetime.fromisoformat(head)
    digits = (fraction + "000000")[:6] if fraction else "0"
    return wall.replace(microsecond=int(digits))


def write_time(value: common_pb2.EventTime, field: str) -> tuple[dict[str, Any], TimeValue]:
    """The ``dateTimeTimeZone`` to send, and the local value it stands for."""
    which = value.WhichOneof("value")
    if which == "floating":
        raise InvalidArgument(
            violations=[(field, "a floating time: Microsoft Graph times always have a zone")],
            reason="FLOATING_TIME_NOT_SUPPORTED_BY_UPSTREAM",
        )
    local = from_proto(value)
    if not isinstance(local, datetime):
        return {"dateTime": format_graph(local), "timeZone": "UTC"}, local
    windows = iana_to_windows(value.time_zone or "UTC")
    if windows is None:  # no Windows zone has these rules: send the instant in UTC
        local, windows = local.astimezone(UTC), "UTC"
    return {"dateTime": format_graph(local.replace(tzinfo=None)), "timeZone": windows}, local


def read_time(
    raw: dict[str, Any] | None, all_day: bool, zone_name: str | None
) -> common_pb2.EventTime:
    """An ``EventTime`` from a ``dateTimeTimeZone`` Graph sent (in UTC, as asked)."""
    if not raw or not raw.get("dateTime"):
        return common_pb2.EventTime()
    wall = parse_graph(str(raw["dateTime"]))
    if all_day:
        return to_proto(wall.date())
    sent_zone = windows_to_iana(str(raw.get("timeZone") or "UTC")) or "UTC"
    instant = wall.replace(tzinfo=ZoneInfo(sent_zone))
    return to_proto(instant.astimezone(ZoneInfo(zone_name or sent_zone)))


def local_start(start: common_pb2.EventTime) -> TimeValue:
    """The series' start as a local value (date, or aware in its own zone)."""
    return from_proto(start)
