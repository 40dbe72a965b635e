"""`SimpleRecurrence` ("every other week on Monday and Wednesday until June")
translated into one RRULE, for clients that do not speak RFC 5545.

=================  ============================================
period             RRULE
=================  ============================================
PERIOD_DAY         ``FREQ=DAILY``
PERIOD_WEEK        ``FREQ=WEEKLY;BYDAY=<weekdays>`` (default: the start's)
PERIOD_MONTH       ``FREQ=MONTHLY`` (on the start's day of the month)
PERIOD_YEAR        ``FREQ=YEARLY`` (on the start's date)
PERIOD_WEEKDAY     ``FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR``
=================  ============================================

``interval`` becomes INTERVAL (1-1000), ``count`` COUNT, and ``end_date``
(the last local date an instance may start on) UNTIL: a DATE for an
all-day series, the last second of that day as local time for a floating
one, and the same instant in UTC for a timed one (RFC 5545 wants UTC there).
Monthly and yearly rules leave the day to DTSTART, as RFC 5545 does, so a
series moved to another day keeps following its start; monthly on the 31st
therefore skips shorter months (RFC 5545 §3.3.10: invalid dates are
ignored), which is what the API documents.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence.rules import WEEKDAY_CODES, format_until
from connectors.recurrence.times import TimeValue, Violation, from_proto, validate_event_time

__all__ = ["MAX_INTERVAL", "simple_to_rrule", "validate_simple"]

MAX_INTERVAL = 1000

_Period = event_service_pb2.SimpleRecurrence.Period
_FREQ: Final = {
    _Period.PERIOD_DAY: "DAILY",
    _Period.PERIOD_WEEK: "WEEKLY",
    _Period.PERIOD_MONTH: "MONTHLY",
    _Period.PERIOD_YEAR: "YEARLY",
    _Period.PERIOD_WEEKDAY: "WEEKLY",
}
_WORK_WEEK: Final = (0, 1, 2, 3, 4)


def validate_simple(
    simple: event_service_pb2.SimpleRecurrence,
    start: common_pb2.EventTime,
    *,
    field: str = "event.recurrence.simple",
    default_zone: str = "UTC",
) -> list[Violation]:
    """Violations of a simple recurrence for a series starting at ``start``."""
    out: list[Violation] = []
    if simple.period not in _FREQ:
        out.append((f"{field}.period", "required: one of DAY, WEEK, MONTH, YEAR, WEEKDAY"))
    if not 0 <= simple.interval <= MAX_INTERVAL:
        out.append((f"{field}.interval", f"must be between 1 and {MAX_INTERVAL}"))
    if simple.weekdays and simple.period != _Period.PERIOD_WEEK:
        out.append((f"{field}.weekdays", "only allowed with PERIOD_WEEK"))
    for i, day in enumerate(simple.weekdays):
        if not 1 <= day <= 7:
            out.append((f"{field}.weekdays[{i}]", "must be MONDAY to SUNDAY"))
    which = simple.WhichOneof("series_end")
    if which == "count" and simple.count < 1:
        out.append((f"{field}.count", "must be at least 1"))
    if which == "end_date":
        d = simple.end_date
        try:
            last = date(d.year, d.month, d.day)
        except ValueError:
            out.append((f"{field}.end_date", "invalid date"))
        else:
            first = _start_date(start, default_zone)
            if first is not None and last < first:
                out.append((f"{field}.end_date", "must not be before the start's date"))
    return out


def simple_to_rrule(
    simple: event_service_pb2.SimpleRecurrence,
    start: common_pb2.EventTime,
    *,
    default_zone: str = "UTC",
) -> str:
    """The RRULE of a valid simple recurrence (`ValueError` if invalid)."""
    problems = validate_simple(simple, start, default_zone=default_zone)
    problems += validate_event_time(start, "start")
    if problems:
        raise ValueError("; ".join(f"{f}: {d}" for f, d in problems))
    first = from_proto(start, default_zone=default_zone)
    parts = [f"FREQ={_FREQ[simple.period]}"]
    if simple.interval > 1:
        parts.append(f"INTERVAL={simple.interval}")
    if simple.WhichOneof("series_end") == "count":
        parts.append(f"COUNT={simple.count}")
    elif simple.WhichOneof("series_end") == "end_date":
        d = simple.end_date
        parts.append(f"UNTIL={_until(first, date(d.year, d.month, d.day))}")
    if simple.period == _Period.PERIOD_WEEKDAY:
        days: tuple[int, ...] = _WORK_WEEK
    elif simple.period == _Period.PERIOD_WEEK:
        # google.type.DayOfWeek: MONDAY = 1 ... SUNDAY = 7.
        days = tuple(sorted({d - 1 for d in simple.weekdays} or {_local_date(first).weekday()}))
    else:
        days = ()
    if days:
        parts.append("BYDAY=" + ",".join(WEEKDAY_CODES[d] for d in days))
    return ";".join(parts)


def _until(first: TimeValue, last_day: date) -> str:
    if not isinstance(first, datetime):
        return format_until(last_day)
    if first.tzinfo is None:
        return format_until(datetime.combine(last_day, time(23, 59, 59)))
    # The last second before the next local day starts. That midnight may
    # not exist (a DST gap at 00:00): fold=0 then gives the gap's start,
    # which is exactly when the next day begins.
    next_day = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=first.tzinfo)
    return format_until(next_day.astimezone(UTC) - timedelta(seconds=1))


def _local_date(value: TimeValue) -> date:
    return value.date() if isinstance(value, datetime) else value


def _start_date(start: common_pb2.EventTime, default_zone: str) -> date | None:
    try:
        return _local_date(from_proto(start, default_zone=default_zone))
    except ValueError:
        return None
