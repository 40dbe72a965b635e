"""Google's ``EventDateTime`` and recurrence lines <-> Almanac's ``EventTime``.

Google writes a timed value as RFC 3339 with an offset plus an optional IANA
``timeZone``; an all-day value as a ``date``. It has no floating times, so a
floating Almanac time cannot be written (INVALID_ARGUMENT, not a guess).
Recurrence lines are RFC 5545 properties without DTSTART: RRULE, RDATE,
EXDATE (EXRULE is deprecated by RFC 5545 and kept only in ``raw``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from almanac.v1 import common_pb2
from almanac.v1 import event_service_pb2 as ev_pb
from google.type import date_pb2

from connectors.errors import InvalidArgument

__all__ = [
    "from_google_time",
    "instance_suffix",
    "parse_recurrence",
    "recurrence_lines",
    "to_google_time",
]

EventTime = common_pb2.EventTime


def from_google_time(value: dict[str, Any]) -> EventTime:
    if "date" in value:
        d = date.fromisoformat(value["date"])
        return EventTime(date=date_pb2.Date(year=d.year, month=d.month, day=d.day))
    moment = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    zone = value.get("timeZone", "")
    if moment.tzinfo is None:  # only legal with a timeZone: its wall clock
        moment = moment.replace(tzinfo=_zone(zone or "UTC"))
    out = EventTime(time_zone=zone)
    out.date_time.FromDatetime(moment.astimezone(UTC))
    return out


def to_google_time(value: EventTime, field: str, zone_needed: bool = False) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind == "date":
        return {"date": _iso_date(value.date)}
    if kind != "date_time":
        raise InvalidArgument(violations=[(field, "Google Calendar has no floating times")])
    moment = value.date_time.ToDatetime(tzinfo=UTC)
    zone = value.time_zone or ("UTC" if zone_needed else "")
    out: dict[str, Any] = {"dateTime": moment.astimezone(_zone(zone or "UTC")).isoformat()}
    if zone:  # Google requires it on recurring events (B2)
        out["timeZone"] = zone
    return out


def instance_suffix(original: EventTime) -> str:
    """Google's instance id suffix: ``YYYYMMDD`` or ``YYYYMMDDTHHMMSSZ`` (UTC)."""
    if original.WhichOneof("value") == "date":
        return _iso_date(original.date).replace("-", "")
    return original.date_time.ToDatetime(tzinfo=UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_recurrence(lines: list[str]) -> tuple[ev_pb.Recurrence, list[str]]:
    """Recurrence lines into a ``Recurrence``; the lines it cannot hold are returned."""
    out, rest = ev_pb.Recurrence(), []
    for line in lines:
        head, _, values = line.partition(":")
        name, *params = head.split(";")
        name = name.upper()
        if name == "RRULE":
            out.rrules.append(values)
        elif name in ("RDATE", "EXDATE"):
            target = out.rdates if name == "RDATE" else out.exdates
            target.extend(_times(values, dict(p.split("=", 1) for p in params if "=" in p)))
        else:
            rest.append(line)
    return out, rest


def recurrence_lines(recurrence: ev_pb.Recurrence, zone: str) -> list[str]:
    lines = [r if r.upper().startswith("RRULE:") else f"RRULE:{r}" for r in recurrence.rrules]
    for name, values in (("RDATE", recurrence.rdates), ("EXDATE", recurrence.exdates)):
        for value in values:
            lines.append(_time_line(name, value, zone))
    return lines


def _time_line(name: str, value: EventTime, zone: str) -> str:
    if value.WhichOneof("value") == "date":
        return f"{name};VALUE=DATE:{_iso_date(value.date).replace('-', '')}"
    if value.WhichOneof("value") != "date_time":
        raise InvalidArgument(violations=[(f"recurrence.{name.lower()}s", "no floating times")])
    moment = value.date_time.ToDatetime(tzinfo=UTC)
    if zone and zone != "UTC":
        local = moment.astimezone(_zone(zone)).strftime("%Y%m%dT%H%M%S")
        return f"{name};TZID={zone}:{local}"
    return f"{name}:{moment.strftime('%Y%m%dT%H%M%SZ')}"


def _times(values: str, params: dict[str, str]) -> list[EventTime]:
    out = []
    for raw in values.split(","):
        if params.get("VALUE", "").upper() == "DATE" or len(raw) == 8:
            d = datetime.strptime(raw, "%Y%m%d").date()
            out.append(EventTime(date=date_pb2.Date(year=d.year, month=d.month, day=d.day)))
            continue
        moment = datetime.strptime(raw.rstrip("Z"), "%Y%m%dT%H%M%S")
        zone = "UTC" if raw.endswith("Z") else params.get("TZID", "UTC")
        value = EventTime()  # the instant is what matches an original start
        value.date_time.FromDatetime(moment.replace(tzinfo=_zone(zone)).astimezone(UTC))
        out.append(value)
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument(violations=[("timeZone", f"unknown time zone {name!r}")]) from exc


def _iso_date(value: date_pb2.Date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
