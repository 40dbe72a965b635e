"""The fake Graph's own expansion of a ``patternedRecurrence``.

Written from Graph's documentation of ``recurrencePattern`` and
``recurrenceRange``, straight to dateutil's ``rrule`` arguments (never via
RRULE text, so it does not share the connector's mapping): the series starts
on the first matching day on or after ``range.startDate``, at the master's
wall-clock time in ``recurrenceTimeZone``; a relative pattern with several
days falls on the ``index``-th matching day; ``endDate`` is the last day.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["instant", "occurrences", "zone_of"]

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_FREQ = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absoluteMonthly": rrule.MONTHLY,
    "relativeMonthly": rrule.MONTHLY,
    "absoluteYearly": rrule.YEARLY,
    "relativeYearly": rrule.YEARLY,
}


def zone_of(name: str) -> ZoneInfo:
    """A Graph ``timeZone`` value (Windows name or IANA) as a zone."""
    if name in ("UTC", "", None):
        return ZoneInfo("UTC")
    return ZoneInfo(str(WINDOWS_TO_OLSON.get(name, name)))


def _arguments(pattern: dict[str, Any]) -> dict[str, Any]:
    kind = pattern["type"]
    days = [_DAYS[d] for d in pattern.get("daysOfWeek") or []]
    args: dict[str, Any] = {"freq": _FREQ[kind], "interval": pattern.get("interval") or 1}
    if kind == "weekly":
        args["byweekday"] = days
        args["wkst"] = _DAYS[pattern.get("firstDayOfWeek") or "sunday"]
    if kind in ("absoluteMonthly", "absoluteYearly"):
        args["bymonthday"] = pattern["dayOfMonth"]
    if kind in ("relativeMonthly", "relativeYearly"):
        args["byweekday"] = days
        args["bysetpos"] = _INDEX[pattern.get("index") or "first"]
    if kind in ("absoluteYearly", "relativeYearly"):
        args["bymonth"] = pattern["month"]
    return args


def occurrences(
    recurrence: dict[str, Any], wall_start: datetime, all_day: bool, until: datetime
) -> list[datetime]:
    """Local wall-clock starts of a series, up to ``until`` (a naive wall time)."""
    rng = recurrence["range"]
    first_day = date.fromisoformat(rng["startDate"])
    start = datetime.combine(first_day, wall_start.time())
    args = _arguments(recurrence["pattern"])
    if rng["type"] == "numbered":
        args["count"] = rng["numberOfOccurrences"]
    elif rng["type"] == "endDate":
        args["until"] = datetime.combine(date.fromisoformat(rng["endDate"]), time(23, 59, 59))
    found = []
    for moment in rrule.rrule(dtstart=start, **args):
        if moment > until:
            break
        found.append(moment)
    del all_day  # all-day series expand the same way, at midnight
    return found


def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall time; one in a DST gap moves forward by the gap.

    (zoneinfo gives a gap time the offset before the gap, which is that shift.)
    """
    return wall.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
