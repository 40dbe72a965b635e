"""Working hours: a calendar's schedules as intervals in their own zones.

Times in a schedule are wall-clock times in the schedule's zone, so a
participant in Sydney and one in Berlin overlap only where both work, and a
09:00-17:00 day stays 09:00-17:00 across daylight-saving changes. A calendar
without enabled schedules is always available; several schedules add up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo

from almanac.v1 import calendar_service_pb2 as cal_pb
from google.type import timeofday_pb2

from connectors.recurrence import localize
from connectors.store.rows import us_from_datetime as us
from services.availability.intervals import Interval, merge

__all__ = ["available_intervals"]

# google.type.DayOfWeek numbers Monday 1 .. Sunday 7; Python's weekday() is 0-based.
_PY_WEEKDAY_TO_PROTO = {i: i + 1 for i in range(7)}


# Days whose neighbours datetime can still represent: day - 1 and day + 1
# are computed for each.
_FIRST_DAY = dt.date(1, 1, 2)
_LAST_DAY = dt.date(9999, 12, 30)


def _local_date(value_us: int, zone: ZoneInfo) -> dt.date:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value_us)
    try:
        return moment.astimezone(zone).date()
    except OverflowError:
        return moment.date()


def _wall(day: dt.date, t: timeofday_pb2.TimeOfDay) -> dt.datetime:
    if t.hours == 24:
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return dt.datetime.combine(day, dt.time(t.hours, t.minutes))


def _in_effect(schedule: cal_pb.Schedule, day: dt.date) -> bool:
    if schedule.HasField("start_date"):
        d = schedule.start_date
        if day < dt.date(d.year, d.month, d.day):
            return False
    if schedule.HasField("end_date"):
        d = schedule.end_date
        if day > dt.date(d.year, d.month, d.day):
            return False
    return True


def schedule_intervals(
    schedule: cal_pb.Schedule, default_zone: str, span: Interval
) -> list[Interval]:
    zone = ZoneInfo(schedule.time_zone or default_zone or "UTC")
    first = max(_local_date(span[0], zone), _FIRST_DAY)
    last = min(_local_date(span[1], zone), _LAST_DAY)
    overrides = {
        dt.date(o.date.year, o.date.month, o.date.day): o.intervals for o in schedule.date_overrides
    }
    weekly: dict[int, list[tuple[timeofday_pb2.TimeOfDay, timeofday_pb2.TimeOfDay]]] = {}
    for w in schedule.weekly_hours:
        weekly.setdefault(int(w.day), []).append((w.start_time, w.end_time))
    out: list[Interval] = []
    day = first - dt.timedelta(days=1)  # a local day can start before the span in UTC
    while day <= last:
        if _in_effect(schedule, day):
            if day in overrides:
                pairs: Sequence[tuple[timeofday_pb2.TimeOfDay, timeofday_pb2.TimeOfDay]] = [
                    (iv.start_time, iv.end_time) for iv in overrides[day]
                ]
            else:
                pairs = weekly.get(_PY_WEEKDAY_TO_PROTO[day.weekday()], [])
            for start, end in pairs:
                try:
                    s = us(localize(_wall(day, start), zone))
                    e = us(localize(_wall(day, end), zone))
                except OverflowError:  # a day at the very end of the calendar
                    continue
                if e > s:
                    out.append((s, e))
        day += dt.timedelta(days=1)
    return merge(out)


def available_intervals(
    schedules: Sequence[cal_pb.Schedule], default_zone: str, span: Interval
) -> list[Interval] | None:
    """When the calendar's owner works within ``span``; None: no schedule, always.

    The answer is shared between equal questions: callers must not change it.
    """
    enabled = [s for s in schedules if not s.disabled]
    if not enabled:
        return None
    key = tuple(s.SerializeToString(deterministic=True) for s in enabled)
    return _intervals(key, default_zone, span)


# A 30-day window of one schedule is some sixty localized wall-clock times,
# worked out again for every calendar of every query; the same schedules,
# zone and window give the same hours.
@lru_cache(maxsize=256)
def _intervals(schedules: tuple[bytes, ...], default_zone: str, span: Interval) -> list[Interval]:
    found: list[Interval] = []
    for data in schedules:
        found.extend(schedule_intervals(cal_pb.Schedule.FromString(data), default_zone, span))
    return merge(found)
