"""Validation of calendars and schedules (limits documented in the protos)."""

from __future__ import annotations

from almanac.v1 import calendar_service_pb2 as cal_pb
from google.type import date_pb2, timeofday_pb2

from services.runtime.errors import BadRequestBuilder
from services.runtime.names import CHILD_ID_RE
from services.runtime.validation import check_color, check_id, check_length, check_time_zone

__all__ = ["check_calendar", "check_schedule", "valid_date"]

MAX_EVENT_TYPES = 100
MAX_DEFAULT_REMINDERS = 10
MAX_WEEKLY = 50
MAX_OVERRIDES = 500
FOUR_WEEKS_S = 4 * 7 * 24 * 3600


def check_calendar(bad: BadRequestBuilder, cal: cal_pb.Calendar, prefix: str, create: bool) -> None:
    check_length(bad, f"{prefix}.display_name", cal.display_name, 256, required=create)
    check_length(bad, f"{prefix}.description", cal.description, 8192)
    check_length(bad, f"{prefix}.location", cal.location, 1024)
    check_time_zone(bad, f"{prefix}.time_zone", cal.time_zone)
    check_color(bad, f"{prefix}.color", cal.color)
    if len(cal.event_types) > MAX_EVENT_TYPES:
        bad.add(f"{prefix}.event_types", f"at most {MAX_EVENT_TYPES}")
    seen: set[str] = set()
    for i, et in enumerate(cal.event_types):
        p = f"{prefix}.event_types[{i}]"
        if not et.id:
            bad.add(f"{p}.id", "is required")
        check_id(bad, f"{p}.id", et.id, CHILD_ID_RE)
        if et.id in seen:
            bad.add(f"{p}.id", f"duplicate event type id {et.id!r}")
        seen.add(et.id)
        check_length(bad, f"{p}.display_name", et.display_name, 256, required=True)
        check_color(bad, f"{p}.color", et.color)
    if len(cal.default_reminders) > MAX_DEFAULT_REMINDERS:
        bad.add(f"{prefix}.default_reminders", f"at most {MAX_DEFAULT_REMINDERS}")
    for i, r in enumerate(cal.default_reminders):
        d = r.before_start
        if d.seconds < 0 or d.nanos or d.seconds % 60 or d.seconds > FOUR_WEEKS_S:
            bad.add(
                f"{prefix}.default_reminders[{i}].before_start",
                "must be whole minutes from 0 to 4 weeks",
            )


def valid_date(d: date_pb2.Date) -> bool:
    import datetime as dt

    try:
        dt.date(d.year, d.month, d.day)
    except ValueError:
        return False
    return True


def _minutes(t: timeofday_pb2.TimeOfDay) -> int | None:
    """Minutes since midnight; 24:00 allowed as the end of the day."""
    if t.hours == 24 and t.minutes == 0 and t.seconds == 0 and t.nanos == 0:
        return 24 * 60
    if not (0 <= t.hours < 24 and 0 <= t.minutes < 60 and t.seconds == 0 and t.nanos == 0):
        return None
    return int(t.hours * 60 + t.minutes)


def _check_interval(
    bad: BadRequestBuilder,
    prefix: str,
    start: timeofday_pb2.TimeOfDay,
    end: timeofday_pb2.TimeOfDay,
) -> None:
    s, e = _minutes(start), _minutes(end)
    if s is None or s == 24 * 60:
        bad.add(f"{prefix}.start_time", "must be a whole-minute time from 00:00 to 23:59")
    if e is None:
        bad.add(f"{prefix}.end_time", "must be a whole-minute time from 00:01 to 24:00")
    if s is not None and e is not None and e <= s:
        bad.add(f"{prefix}.end_time", "must be after start_time")


def check_schedule(bad: BadRequestBuilder, sch: cal_pb.Schedule, prefix: str, create: bool) -> None:
    check_length(bad, f"{prefix}.display_name", sch.display_name, 256, required=create)
    check_time_zone(bad, f"{prefix}.time_zone", sch.time_zone)
    if len(sch.weekly_hours) > MAX_WEEKLY:
        bad.add(f"{prefix}.weekly_hours", f"at most {MAX_WEEKLY} intervals")
    for i, w in enumerate(sch.weekly_hours):
        p = f"{prefix}.weekly_hours[{i}]"
        if not 1 <= w.day <= 7:
            bad.add(f"{p}.day", "is required (MONDAY..SUNDAY)")
        _check_interval(bad, p, w.start_time, w.end_time)
    if len(sch.date_overrides) > MAX_OVERRIDES:
        bad.add(f"{prefix}.date_overrides", f"at most {MAX_OVERRIDES}")
    for i, o in enumerate(sch.date_overrides):
        p = f"{prefix}.date_overrides[{i}]"
        if not valid_date(o.date):
            bad.add(f"{p}.date", "must be a full, valid date")
        for j, iv in enumerate(o.intervals):
            _check_interval(bad, f"{p}.intervals[{j}]", iv.start_time, iv.end_time)
    for field in ("start_date", "end_date"):
        if sch.HasField(field) and not valid_date(getattr(sch, field)):
            bad.add(f"{prefix}.{field}", "must be a full, valid date")
    if (
        sch.HasField("start_date")
        and sch.HasField("end_date")
        and (sch.end_date.year, sch.end_date.month, sch.end_date.day)
        < (sch.start_date.year, sch.start_date.month, sch.start_date.day)
    ):
        bad.add(f"{prefix}.end_date", "must not be before start_date")
