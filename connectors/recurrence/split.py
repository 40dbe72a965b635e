"""Splitting a series for "this and following" changes.

`split_series` cuts a series at one of its occurrences into

* ``before``: the old series' recurrence, ending just before the cut: each
  RRULE with COUNT gets the number of its instances before the cut (dropped
  if none), every other RRULE an UNTIL one second before the cut (UTC for a
  timed series, a DATE the day before for an all-day one, local time for a
  floating one) unless it already ended earlier; RDATEs and EXDATEs after
  the cut are dropped. DTSTART stays, so the old series keeps at least its
  first instance.
* ``after``: the recurrence of a new series whose start is the cut
  occurrence's original start: COUNT rules continue with the remaining
  count, UNTIL rules keep their UNTIL, RDATEs and EXDATEs from the cut on
  move over.

Together they have exactly the occurrences of the original (checked, and a
`ValueError` when that cannot hold). Edge cases:

* Cutting at the first occurrence (DTSTART) leaves nothing before it:
  ``before`` is None and the caller changes the whole series instead. With
  RDATEs earlier than DTSTART, neither those RDATEs nor DTSTART can be cut
  at (`ValueError`): DTSTART always belongs to the old series, so it cannot
  start the new one, nor follow the cut.
* Cutting at an occurrence that only an RDATE produced: RRULEs take their
  implicit parts (weekday, day of month, time of day) from DTSTART, so for
  the new series they are written out explicitly. A rule with INTERVAL > 1
  whose periods would not line up with the new start cannot be expressed
  and raises `ValueError`.
* When the caller then moves the new series (a new time of day), RRULEs
  whose parts were implicit follow the new start, which is what "change
  this and following to 10:00" means; explicit BYHOUR etc. do not.
* A cut at an EXDATEd (cancelled) position is allowed; the EXDATE moves to
  the new series, whose first occurrence is then cancelled.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence.rules import Freq, RuleSpec, WeekdayNum, format_rrule
from connectors.recurrence.series import Series
from connectors.recurrence.times import TimeKind, TimeValue, from_proto, to_proto

__all__ = ["Split", "split_series", "truncate_before"]

# How many members of the new series are compared with the original's.
_CHECK = 64


@dataclass(frozen=True, slots=True)
class Split:
    """The two halves of a series cut at ``original_start`` (see module doc)."""

    before: event_service_pb2.Recurrence | None
    after: event_service_pb2.Recurrence
    new_start: common_pb2.EventTime
    count_before: int  # members (EXDATEd ones included) before the cut


def truncate_before(
    start: common_pb2.EventTime,
    recurrence: event_service_pb2.Recurrence,
    original_start: TimeValue,
    *,
    floating_zone: tzinfo = UTC,
) -> event_service_pb2.Recurrence:
    """The old series' recurrence, ending just before ``original_start``.

    `ValueError` if that is not an occurrence, or is the first one.
    """
    before = split_series(
        start, None, recurrence, original_start, floating_zone=floating_zone
    ).before
    if before is None:
        raise ValueError("cannot end a series before its first occurrence")
    return before


def split_series(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence,
    original_start: TimeValue,
    *,
    floating_zone: tzinfo = UTC,
) -> Split:
    """Cut the series at the occurrence ``original_start`` (see module doc).

    ``floating_zone`` is the calendar's zone, as for `expand` (here it only
    supplies the zone of a ``date_time`` start without ``time_zone``).
    """
    series = Series.build(start, end, recurrence, floating_zone=floating_zone)
    key, wall, _ = series.member(original_start)
    position = _position(series, key)
    if key == series.dtstart_key and position > 1:
        raise ValueError("cannot cut at the series' start when RDATEs precede it")
    new_start = to_proto(_value(series, key, wall))
    default_zone = getattr(series.zone, "key", "UTC")
    after = event_service_pb2.Recurrence()
    before = event_service_pb2.Recurrence()
    for i, rule in enumerate(series.rules):
        spec = rule.spec
        n_before, rest = series.rule_split(i, key, wall)
        first_after = next(rest, None)
        if first_after is None:
            if n_before:
                before.rrules.append(format_rrule(spec))  # ended before the cut
            continue
        if n_before:
            before.rrules.append(format_rrule(_end_before(spec, series, key, wall, n_before)))
        remaining = None if spec.count is None else spec.count - n_before
        # Cut at an instance shifted out of a DST gap: its rule names 02:30,
        # the new start is 03:30, which the rewritten rule does not name, so
        # the new DTSTART is an extra instance and COUNT has one less.
        shifted = first_after[0] == key and first_after[1] != _wall_of(series, key, wall)
        if shifted and remaining is not None:
            remaining -= 1
            if remaining == 0:
                continue
        new_spec = spec.with_end(count=remaining, until=spec.until)
        if first_after[0] != key or shifted:
            new_spec = _explicit(new_spec, series)  # cut at an RDATE or a shifted instance
        after.rrules.append(format_rrule(new_spec))
    for name in ("rdates", "exdates"):
        for value in getattr(recurrence, name):
            k = series.member(from_proto(value, default_zone=default_zone))[0]
            if k < key:
                getattr(before, name).append(value)
            elif not (name == "rdates" and k == key):
                getattr(after, name).append(value)
    result = Split(None if position == 1 else before, after, new_start, position - 1)
    _check(series, key, result)
    return result


def _position(series: Series, key: datetime) -> int:
    if key < series.dtstart_key:
        raise ValueError("not an occurrence of the series (before its start)")
    for index, member in series.walk(_near(key, series)):
        if member[0] == key:
            return index
        if member[0] > key:
            break
    raise ValueError("not an occurrence of the series")


def _near(key: datetime, series: Series) -> datetime | None:
    # A wall clock a little before the member, for Series.walk to jump to.
    wall = key.astimezone(series.zone).replace(tzinfo=None) if series.zone else key
    try:
        return wall - timedelta(days=2)
    except OverflowError:
        return None


def _value(series: Series, key: datetime, wall: datetime) -> TimeValue:
    if series.zone is not None:
        return key.astimezone(series.zone)
    return wall if series.kind is TimeKind.FLOATING else wall.date()


def _wall_of(series: Series, key: datetime, wall: datetime) -> datetime:
    if series.zone is not None:
        return key.astimezone(series.zone).replace(tzinfo=None)
    return wall


def _end_before(
    spec: RuleSpec, series: Series, key: datetime, wall: datetime, n_before: int
) -> RuleSpec:
    if spec.count is not None:
        return spec.with_end(count=n_before, until=None)
    until: TimeValue
    if series.kind is TimeKind.ALL_DAY:
        until = wall.date() - timedelta(days=1)
    elif series.kind is TimeKind.FLOATING:
        until = wall - timedelta(seconds=1)
    else:
        until = key - timedelta(seconds=1)
    return spec.with_end(count=None, until=until)


def _explicit(spec: RuleSpec, series: Series) -> RuleSpec:
    # Write out what dateutil and RFC 5545 would take from the old DTSTART.
    d = series.dtstart_wall
    changes: dict[str, Any] = {}
    if series.kind is not TimeKind.ALL_DAY:
        if spec.freq is not Freq.HOURLY:
            changes["byhour"] = spec.byhour or (d.hour,)
        changes["byminute"] = spec.byminute or (d.minute,)
        changes["bysecond"] = spec.bysecond or (d.second,)
    if not (spec.byweekno or spec.byyearday or spec.bymonthday or spec.byday):
        if spec.freq is Freq.YEARLY:
            changes["bymonth"] = spec.bymonth or (d.month,)
            changes["bymonthday"] = (d.day,)
        elif spec.freq is Freq.MONTHLY:
            changes["bymonthday"] = (d.day,)
        elif spec.freq is Freq.WEEKLY:
            changes["byday"] = (WeekdayNum(d.weekday()),)
    return replace(spec, **changes)


def _check(series: Series, key: datetime, split: Split) -> None:
    # The new series must continue the original exactly; compare the first
    # members (EXDATEd ones included) rather than trust the rewrite.
    # Durations do not change which members exist: no end needed.
    new = Series.build(split.new_start, None, split.after, floating_zone=series.floating_zone)
    original = (m[0] for _, m in series.walk(_near(key, series)) if m[0] >= key)
    ours = (m[0] for _, m in new.walk())
    for a, b in itertools.islice(itertools.zip_longest(original, ours), _CHECK):
        if a != b:
            raise ValueError(
                "this occurrence cannot start a new series with the same rules "
                "(an INTERVAL that does not line up with it)"
            )
