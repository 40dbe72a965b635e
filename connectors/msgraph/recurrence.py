"""RRULE <-> Graph ``patternedRecurrence``, as tables.

Graph has six patterns (``recurrencePattern.type``) and three ranges
(``recurrenceRange.type``). A rule maps only when Graph expands it to the
same instances; anything else (several rules, RDATE, sub-daily FREQ, BYHOUR
and friends, BYSETPOS outside first..fourth/last, several months, several
ordinal days, ...) is rejected with a violation naming the rule part, never
rewritten. EXDATEs are not part of the pattern: the backend deletes those
occurrences. A pattern is read back in its canonical short form: parts that
only repeat what the series' start says are left out.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from connectors.errors import InvalidArgument
from connectors.recurrence.rules import (
    Freq,
    RRuleError,
    RuleSpec,
    WeekdayNum,
    format_rrule,
    parse_rrule,
    strip_prefix,
)

__all__ = ["DAYS", "INDEXES", "from_graph", "to_graph"]

# Graph dayOfWeek members by Python weekday (Monday is 0), and back.
DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX: Final = {name: i for i, name in enumerate(DAYS)}
# weekIndex members <-> BYSETPOS / BYDAY ordinals; Graph has no "second last".
INDEXES: Final = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_INDEX_OF: Final = {name: n for n, name in INDEXES.items()}
# Parts Graph has no notion of, whatever the FREQ.
_NEVER: Final = ("byhour", "byminute", "bysecond", "byyearday", "byweekno")
_FIELD = "event.recurrence.rrules[0]"


def _reject(part: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        violations=[(_FIELD, f"{part}: {why}; Microsoft Graph cannot express it")],
        reason="RECURRENCE_NOT_SUPPORTED_BY_UPSTREAM",
    )


def to_graph(
    rrules: list[str], has_rdates: bool, start: date | datetime, time_zone: str
) -> dict[str, Any]:
    """``patternedRecurrence`` for a series starting at ``start`` (local wall time).

    ``time_zone`` is the Windows zone the pattern is expanded in.
    """
    if has_rdates:
        raise InvalidArgument(
            violations=[("event.recurrence.rdates", "RDATE: Microsoft Graph cannot express it")],
            reason="RECURRENCE_NOT_SUPPORTED_BY_UPSTREAM",
        )
    if len(rrules) != 1:
        raise InvalidArgument(
            violations=[("event.recurrence.rrules", "several RRULEs: Microsoft Graph has one")],
            reason="RECURRENCE_NOT_SUPPORTED_BY_UPSTREAM",
        )
    try:
        spec = parse_rrule(rrules[0])
    except RRuleError as exc:
        raise InvalidArgument(violations=[(_FIELD, str(exc))]) from exc
    day = start.date() if isinstance(start, datetime) else start
    pattern = _pattern(spec, day)
    _check_first(rrules[0], start)
    return {"pattern": pattern, "range": _range(spec, start, time_zone)}


def _check_first(rule: str, start: date | datetime) -> None:
    """RFC 5545 counts DTSTART as an instance even off the rule; Graph starts on
    the first day the pattern matches, so such a series would lose its first."""
    wall = start if isinstance(start, datetime) else datetime.combine(start, time())
    wall = wall.replace(tzinfo=None)
    text = strip_prefix(rule).split(";")
    kept = ";".join(p for p in text if not p.upper().startswith(("UNTIL=", "COUNT=")))
    first = rrulestr(kept, dtstart=wall).after(wall, inc=True)
    if first != wall:
        raise InvalidArgument(
            violations=[
                (
                    "event.start",
                    "not an instance of its RRULE; a Microsoft Graph"
                    " series starts on its first instance",
                )
            ],
            reason="RECURRENCE_NOT_SUPPORTED_BY_UPSTREAM",
        )


def _pattern(spec: RuleSpec, day: date) -> dict[str, Any]:
    for part in _NEVER:
        if getattr(spec, part):
            raise _reject(part.upper(), "not a daily, weekly, monthly or yearly pattern")
    builder = _BUILDERS.get(spec.freq)
    if builder is None:
        raise _reject(f"FREQ={spec.freq.name}", "more often than daily")
    pattern: dict[str, Any] = {
        "interval": spec.interval,
        "month": 0,
        "dayOfMonth": 0,
        "firstDayOfWeek": DAYS[spec.week_start],
        "index": "first",
    }
    pattern.update(builder(spec, day))
    return pattern


def _daily(spec: RuleSpec, day: date) -> dict[str, Any]:
    _only(spec, set(), "DAILY")
    return {"type": "daily"}


def _weekly(spec: RuleSpec, day: date) -> dict[str, Any]:
    _only(spec, {"byday"}, "WEEKLY")
    days = [d.weekday for d in spec.byday] or [day.weekday()]
    return {"type": "weekly", "daysOfWeek": [DAYS[d] for d in days]}


def _monthly(spec: RuleSpec, day: date) -> dict[str, Any]:
    _only(spec, {"byday", "bymonthday", "bysetpos"}, "MONTHLY")
    if spec.byday:
        return {"type": "relativeMonthly", **_relative(spec)}
    return {"type": "absoluteMonthly", "dayOfMonth": _month_day(spec, day)}


def _yearly(spec: RuleSpec, day: date) -> dict[str, Any]:
    _only(spec, {"byday", "bymonthday", "bysetpos", "bymonth"}, "YEARLY")
    if len(spec.bymonth) > 1:
        raise _reject("BYMONTH=" + ",".join(map(str, spec.bymonth)), "several months")
    month = spec.bymonth[0] if spec.bymonth else day.month
    if spec.byday:
        if not spec.bymonth:
            raise _reject("BYDAY", "a yearly BYDAY needs one BYMONTH")
        return {"type": "relativeYearly", "month": month, **_relative(spec)}
    return {"type": "absoluteYearly", "month": month, "dayOfMonth": _month_day(spec, day)}


def _only(spec: RuleSpec, allowed: set[str], freq: str) -> None:
    for part in ("byday", "bymonthday", "bymonth", "bysetpos"):
        if getattr(spec, part) and part not in allowed:
            raise _reject(f"{part.upper()} with FREQ={freq}", "no such Graph pattern")


def _month_day(spec: RuleSpec, day: date) -> int:
    if spec.bysetpos:
        raise _reject("BYSETPOS", "only with BYDAY")
    if len(spec.bymonthday) > 1:
        raise _reject("BYMONTHDAY=" + ",".join(map(str, spec.bymonthday)), "several days")
    value = spec.bymonthday[0] if spec.bymonthday else day.day
    if value < 1:
        raise _reject(f"BYMONTHDAY={value}", "counted from the month's end")
    return value


def _relative(spec: RuleSpec) -> dict[str, Any]:
    """relativeMonthly/Yearly: one ordinal weekday, or weekdays with one BYSETPOS."""
    ordinals = {d.n for d in spec.byday}
    if len(ordinals) > 1 or (None not in ordinals and len(spec.byday) > 1):
        raise _reject("BYDAY=" + ",".join(map(str, spec.byday)), "several ordinal weekdays")
    ordinal = next(iter(ordinals))
    if ordinal is not None and spec.bysetpos:
        raise _reject("BYSETPOS", "together with an ordinal BYDAY")
    if ordinal is None:
        if len(spec.bysetpos) != 1:
            raise _reject("BYDAY without an ordinal", "needs exactly one BYSETPOS")
        ordinal = spec.bysetpos[0]
        part = f"BYSETPOS={ordinal}"
    else:
        part = f"BYDAY={spec.byday[0]}"
    if ordinal not in INDEXES:
        raise _reject(part, "Graph's index is first to fourth or last")
    return {"index": INDEXES[ordinal], "daysOfWeek": [DAYS[d.weekday] for d in spec.byday]}


_BUILDERS: Final = {
    Freq.DAILY: _daily,
    Freq.WEEKLY: _weekly,
    Freq.MONTHLY: _monthly,
    Freq.YEARLY: _yearly,
}


def _range(spec: RuleSpec, start: date | datetime, time_zone: str) -> dict[str, Any]:
    day = start.date() if isinstance(start, datetime) else start
    out: dict[str, Any] = {
        "startDate": day.isoformat(),
        "recurrenceTimeZone": time_zone,
        "numberOfOccurrences": 0,
    }
    if spec.count is not None:
        return {**out, "type": "numbered", "numberOfOccurrences": spec.count}
    if spec.until is None:
        return {**out, "type": "noEnd"}
    return {**out, "type": "endDate", "endDate": _end_date(spec.until, start).isoformat()}


def _end_date(until: date | datetime, start: date | datetime) -> date:
    """The last day an instance may fall on: Graph's endDate has no time of day.

    An UNTIL instant keeps its meaning: the day it falls on (in the series'
    zone) counts only if that day's instance, at the start's time, is not after it.
    """
    if not isinstance(until, datetime):
        return until
    if not isinstance(start, datetime):
        return until.date()
    zone = start.tzinfo
    local = until.astimezone(zone) if until.tzinfo is not None else until.replace(tzinfo=zone)
    candidate = datetime.combine(local.date(), start.timetz())
    return local.date() if candidate <= local else local.date() - timedelta(days=1)


def from_graph(recurrence: dict[str, Any], start: date | datetime) -> str:
    """The RRULE of a ``patternedRecurrence`` whose series starts at ``start`` (local)."""
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    kind = pattern.get("type")
    day = start.date() if isinstance(start, datetime) else start
    freq = {
        "daily": Freq.DAILY,
        "weekly": Freq.WEEKLY,
        "absoluteMonthly": Freq.MONTHLY,
        "relativeMonthly": Freq.MONTHLY,
        "absoluteYearly": Freq.YEARLY,
        "relativeYearly": Freq.YEARLY,
    }.get(str(kind))
    if freq is None:
        raise ValueError(f"unknown recurrence pattern type {kind!r}")
    days = [_DAY_INDEX[d] for d in pattern.get("daysOfWeek") or []]
    parts: dict[str, Any] = {"interval": int(pattern.get("interval") or 1)}
    wkst = _DAY_INDEX.get(str(pattern.get("firstDayOfWeek") or "monday"), 0)
    if kind == "weekly":
        if days != [day.weekday()]:
            parts["byday"] = tuple(WeekdayNum(d) for d in days)
        if wkst != 0 and parts["interval"] > 1:
            parts["wkst"] = wkst
    elif kind in ("relativeMonthly", "relativeYearly"):
        n = _INDEX_OF[str(pattern.get("index") or "first")]
        if len(days) == 1:
            parts["byday"] = (WeekdayNum(days[0], n),)
        else:
            parts["byday"], parts["bysetpos"] = tuple(WeekdayNum(d) for d in days), (n,)
    else:
        month_day = int(pattern.get("dayOfMonth") or day.day)
        if kind in ("absoluteMonthly", "absoluteYearly") and month_day != day.day:
            parts["bymonthday"] = (month_day,)
    month = int(pattern.get("month") or day.month)
    if kind == "relativeYearly" or (kind == "absoluteYearly" and month != day.month):
        parts["bymonth"] = (month,)
    parts.update(_range_parts(rng, start))
    return format_rrule(RuleSpec(freq=freq, **parts))


def _range_parts(rng: dict[str, Any], start: date | datetime) -> dict[str, Any]:
    kind = rng.get("type")
    if kind == "numbered":
        return {"count": int(rng["numberOfOccurrences"])}
    if kind == "endDate" and rng.get("endDate"):
        end = date.fromisoformat(str(rng["endDate"]))
        if not isinstance(start, datetime):
            return {"until": end}
        zone = start.tzinfo if start.tzinfo is not None else ZoneInfo("UTC")
        # The end of that day in the series' zone, as the RFC's UTC form.
        last = datetime.combine(end, time(23, 59, 59), zone)
        return {"until": last.astimezone(ZoneInfo("UTC"))}
    return {}
