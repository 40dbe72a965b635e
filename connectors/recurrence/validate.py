"""Checks of a `Recurrence` before it is stored, as field violations.

Limits (EventService comment): at most 10 RRULEs, 1000 RDATEs and 1000
EXDATEs. Each RRULE must parse (dateutil's message first, then this
package's stricter RFC 5545 checks, see `connectors.recurrence.rules`), and
Almanac's policy adds:

* **No FREQ=SECONDLY or MINUTELY.** A MINUTELY rule alone yields 525,600
  instances a year: one request's 50,000-instance budget is gone within 35
  days, and computing an instance's index means counting every instance
  since DTSTART. No calendar UI (Google, Outlook, Apple) offers them.
* **FREQ=HOURLY only with COUNT or UNTIL**, for the same reasons at a
  sixtieth of the rate: a bounded hourly rule (shift patterns imported over
  CalDAV) is fine, an endless one makes every query of that calendar
  pay for the series' whole history.
* **A rule must produce at least one instance.** dateutil searches for the
  next instance of a rule that has none until year 9999 (seconds of CPU on
  every query), so rules that never match (``BYMONTH=2;BYMONTHDAY=30``,
  ``FREQ=DAILY;INTERVAL=7;BYDAY=TU`` from a Monday, BYSETPOS beyond any
  period) are rejected: cheaply by static checks, else by a probe that
  expands the rule in the same calendar 400·k years later, where dateutil
  gives up at year 9999 after at most ~800 years. (The Gregorian calendar
  repeats exactly every 400 years, so the probe sees the same pattern.)
* A timed rule whose every instance falls in a DST gap
  (``FREQ=YEARLY;BYMONTH=3;BYDAY=2SU;BYHOUR=2`` in New York) is fine: such
  instances move forward by the gap (see `connectors.recurrence.expand`).
* A floating series' UNTIL must be local (no ``Z``): a floating instance
  has no instant to compare with a UTC time.
"""

from __future__ import annotations

import calendar
from datetime import datetime, tzinfo

from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence.rules import Freq, RRuleError, RuleSpec, dateutil_message, parse_rrule
from connectors.recurrence.simple import validate_simple
from connectors.recurrence.sources import DateutilRule
from connectors.recurrence.times import (
    TimeKind,
    Violation,
    from_proto,
    proto_kind,
    validate_event_time,
)

__all__ = ["MAX_EXDATES", "MAX_RDATES", "MAX_RRULES", "validate_recurrence", "validate_rrule"]

MAX_RRULES = 10
MAX_RDATES = 1000
MAX_EXDATES = 1000


def validate_recurrence(
    recurrence: event_service_pb2.Recurrence,
    start: common_pb2.EventTime,
    *,
    field: str = "event.recurrence",
    default_zone: str = "UTC",
) -> list[Violation]:
    """Violations of a series' recurrence, given its (already valid) start.

    ``field`` is the recurrence's path. A set ``simple`` is checked as a
    `SimpleRecurrence` and must come without ``rrules``.
    """
    out: list[Violation] = []
    kind = proto_kind(start)
    if recurrence.HasField("simple"):
        if recurrence.rrules:
            out.append((f"{field}.simple", "set either simple or rrules, not both"))
        out.extend(validate_simple(recurrence.simple, start, field=f"{field}.simple"))
    for name, limit in (("rrules", MAX_RRULES), ("rdates", MAX_RDATES), ("exdates", MAX_EXDATES)):
        if len(getattr(recurrence, name)) > limit:
            out.append((f"{field}.{name}", f"at most {limit} allowed"))
    if kind is None:
        return out  # the start's own violation is reported by its validation
    try:
        dtstart = from_proto(start, default_zone=default_zone)
    except ValueError:
        return out
    zone = dtstart.tzinfo if isinstance(dtstart, datetime) else None
    wall = dtstart if isinstance(dtstart, datetime) else datetime(*dtstart.timetuple()[:3])
    for i, text in enumerate(recurrence.rrules):
        path = f"{field}.rrules[{i}]"
        out.extend(validate_rrule(text, kind, wall.replace(tzinfo=None), path, zone=zone))
    for name in ("rdates", "exdates"):
        for i, value in enumerate(getattr(recurrence, name)):
            path = f"{field}.{name}[{i}]"
            problems = validate_event_time(value, path)
            if not problems and proto_kind(value) is not kind:
                problems = [(path, f"must be the same kind as the start ({kind.value})")]
            out.extend(problems)
    return out


def validate_rrule(
    text: str, kind: TimeKind, dtstart: datetime, field: str, *, zone: tzinfo | None = None
) -> list[Violation]:
    """Violations of one RRULE of a series of ``kind`` starting at wall
    ``dtstart`` (in ``zone`` for a timed series)."""
    message = dateutil_message(text)
    if message is not None:
        return [(field, message)]
    try:
        spec = parse_rrule(text)
    except RRuleError as exc:
        return [(field, str(exc))]
    wall = dtstart.replace(microsecond=0)
    problem = _policy(spec, kind) or _never_occurs(spec, wall)
    return [] if problem is None else [(field, problem)]


def _policy(spec: RuleSpec, kind: TimeKind) -> str | None:
    if spec.freq in (Freq.SECONDLY, Freq.MINUTELY):
        return f"FREQ={spec.freq.name} is not supported (finest is HOURLY)"
    if spec.freq is Freq.HOURLY and spec.count is None and spec.until is None:
        return "FREQ=HOURLY needs COUNT or UNTIL"
    until = spec.until
    if kind is TimeKind.FLOATING and isinstance(until, datetime) and until.tzinfo is not None:
        return "UNTIL of a floating series must be a local time (no Z)"
    return None


def _never_occurs(spec: RuleSpec, dtstart: datetime) -> str | None:
    static = _static_emptiness(spec, dtstart)
    if static is not None:
        return static
    shift = 400 * max(0, (9599 - dtstart.year) // 400)
    try:
        probe = DateutilRule(spec, dtstart.replace(year=dtstart.year + shift))
    except ValueError as exc:
        # dateutil rejects some empty rules itself (HOURLY with an
        # unreachable BYHOUR, for example).
        return str(exc)
    try:
        first = next(probe.iter_from(0), None)
    except (ValueError, OverflowError):  # ran off the end of year 9999
        first = None
    return "the rule never produces an instance" if first is None else None


def _static_emptiness(spec: RuleSpec, dtstart: datetime) -> str | None:
    never = "the rule never produces an instance"
    if spec.bymonthday:
        months = spec.bymonth or tuple(range(1, 13))
        # February counted with 29 days: leap days do occur.
        if not any(abs(d) <= _max_days(m) for m in months for d in spec.bymonthday):
            return never + " (no such day in those months)"
    if spec.byday and spec.freq in (Freq.DAILY, Freq.HOURLY):
        step_days, rem = divmod(spec.interval, 1 if spec.freq is Freq.DAILY else 24)
        if rem == 0 and step_days % 7 == 0:
            if dtstart.weekday() not in {d.weekday for d in spec.byday}:
                return never + " (INTERVAL keeps it on the weekday of its start)"
    if spec.bysetpos:
        times = len(spec.byminute or (0,)) * len(spec.bysecond or (0,))
        if spec.freq is not Freq.HOURLY:
            times *= len(spec.byhour or (0,))
        if all(abs(p) > _max_days_per_period(spec) * times for p in spec.bysetpos):
            return never + " (BYSETPOS beyond every period's instances)"
    return None


def _max_days_per_period(spec: RuleSpec) -> int:
    # An upper bound of the days one period can contribute before BYSETPOS.
    bounds = [{Freq.YEARLY: 366, Freq.MONTHLY: 31, Freq.WEEKLY: 7}.get(spec.freq, 1)]
    plain_days = sum(1 for d in spec.byday if d.n is None)
    if spec.byday and plain_days == len(spec.byday):
        per_weekday = {Freq.YEARLY: 53, Freq.MONTHLY: 5}.get(spec.freq, 1)
        bounds.append(per_weekday * plain_days)
    return min(bounds)


def _max_days(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]
