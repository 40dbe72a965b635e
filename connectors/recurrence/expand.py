"""Expanding a recurring series into occurrences (RFC 5545 §3.8.5).

The recurrence set is DTSTART, every RRULE instance and every RDATE, minus
the EXDATEs. RRULEs expand on naive wall-clock times in the series' own zone
(the ``time_zone`` of the master's ``start``) and are then localized, so a
09:00 weekly meeting stays at 09:00 local time across DST changes; all-day
series expand on dates that no zone ever shifts; floating series on wall
clock times, mapped to instants through ``floating_zone`` (the calendar's
zone) only for range tests.

Decisions (each tested in ``tests/recurrence``):

* **Nonexistent local times move forward by the gap.** RFC 5545 §3.3.5:
  a local time that does not occur "is interpreted using the UTC offset
  before the gap in local times", so a daily 02:30 Europe/Berlin series has
  its spring-forward instance at 03:30 CEST. §3.3.10 says instances with a
  "nonexistent local time ... MUST be ignored", which contradicts it; the
  widely used reading is the shift (Google Calendar, Apple Calendar,
  recurring-ical-events, ical.js), and a series on a CalDAV or Google
  account must list the instances its server shows, so Almanac shifts
  (architecture.md, Connectors). A shifted instance that lands on or after
  the rule's next instance (an HOURLY rule: 02:00 becomes 03:00, which the
  rule names anyway) is a duplicate and dropped (§3.8.5.3: "Duplicate
  instances are ignored"), so instants stay unique and in order; COUNT
  counts the instances that remain. Floating series have no zone and are
  read through ``floating_zone`` the same way.
* **Ambiguous local times are the first occurrence** (RFC 5545 §3.3.5: "the
  DATE-TIME value refers to the first occurrence of the referenced time"),
  except that the instance at DTSTART's own wall clock is DTSTART itself.
* **Instances last exactly as long as the master** (RFC 5545 §3.8.5.3: "If
  the duration of the recurring component is specified with the "DTEND" ...
  property, then the same exact duration will apply to all the members of
  the generated recurrence set"): a 2-hour event spanning a DST change still
  lasts 2 hours, and so does a floating one (its ``end`` wall clock is its
  start plus that duration). All-day instances run from local midnight to
  local midnight the same number of days later.
* **UNTIL**: UTC (the RFC form for a zoned DTSTART) is compared as an
  instant; a local (no ``Z``) UNTIL is accepted too and read in the series'
  zone; a DATE UNTIL includes the whole local day. COUNT counts the
  instances a rule generates; a DTSTART the rule does not generate is an
  extra instance ("always counts as the first occurrence"), as in dateutil,
  except when every RRULE's UNTIL is before DTSTART: such a series (how
  Confluence marks a deleted one) has no instances, not DTSTART alone, as
  recurring-ical-events and ical.js read it (RDATEs still count).
* **EXDATE** matches by identity: the instant for a timed series (in any
  zone), the date for all-day, the wall clock for floating.
* **Index** (`Occurrence.index`, the API's ``instance_index``): the 1-based
  position in the recurrence set *before* EXDATEs are removed, DTSTART and
  RDATEs included in start order, dropped duplicates not counted. So
  cancelling or modifying an instance never renumbers the others; an EXDATEd
  position simply has no instance (``include_excluded`` shows it, flagged).
* **Windows**: an occurrence is in ``[window_start, window_end)`` when
  ``end_utc > window_start and start_utc < window_end``; a zero-length one
  when ``window_start <= start_utc < window_end`` (RFC 4791 §9.9).
* **Limit**: `expand` returns at most ``limit`` occurrences and says whether
  more existed (`Expansion.truncated`); an endless series with no
  ``window_end`` stops there. `iter_occurrences` is the lazy form.
* Times have whole seconds: microseconds of DTSTART, RDATE and EXDATE are
  dropped (RFC 5545 DATE-TIME has none; instance ids are second-granular).

Cost: a series whose RRULE has a fixed period (DAILY, WEEKLY, HOURLY without
month/year filters) jumps straight to the window and computes indices by
arithmetic; other rules (MONTHLY, YEARLY, several RRULEs) are walked from
DTSTART by dateutil. Measured (CPU, a loaded 2-core VM): a daily series
started 10 years ago, one-month window, 0.2 ms; 1000 weekly series over one
month (6,728 instances), 73 ms; a monthly series 10 years back, 1 ms; 1000
monthly series over one month, 190 ms.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from almanac.v1 import common_pb2, event_service_pb2

from connectors.recurrence.keys import occurrence_key
from connectors.recurrence.series import Member, Series
from connectors.recurrence.times import TimeKind, TimeValue

__all__ = [
    "DEFAULT_LIMIT",
    "Expansion",
    "Occurrence",
    "expand",
    "find_occurrence",
    "is_occurrence",
    "iter_occurrences",
    "occurrence_at",
]

DEFAULT_LIMIT = 50_000
"""The API's per-request expansion limit (EventService comment)."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One instance of a series, as the rules generate it (no overrides).

    ``original_start`` is the RECURRENCE-ID: a `date` (all-day), an aware
    datetime in the series' zone (timed) or a naive one (floating); it is
    also the instance's start. ``end`` is its end of the same kind (timed:
    in the zone of the master's end). ``start_utc``/``end_utc`` are for
    range tests; ``excluded`` is True only for EXDATEd positions, which only
    ``include_excluded`` returns.
    """

    original_start: TimeValue
    end: TimeValue
    start_utc: datetime
    end_utc: datetime
    index: int
    instance_id_suffix: str
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class Expansion:
    """Result of `expand`: the occurrences and whether ``limit`` cut them."""

    occurrences: tuple[Occurrence, ...]
    truncated: bool


def iter_occurrences(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence | None,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    floating_zone: tzinfo = UTC,
    include_excluded: bool = False,
) -> Iterator[Occurrence]:
    """The occurrences of a series in the window, in start order, lazily.

    Window bounds must be aware datetimes (any zone). Without
    ``window_end`` an endless series never ends: bound it, or use `expand`.
    Raises `ValueError` for input that validation would reject.
    """
    series = Series.build(start, end, recurrence, floating_zone=floating_zone)
    ws = _utc(window_start)
    we = _utc(window_end)
    stop_key = _stop_key(series, we)
    exdates = series.exdates
    timed, duration = series.zone is not None, series.duration
    walk = series.walk(_skip_point(series, ws), _horizon(series, we))
    try:
        for index, member in walk:
            key = member[0]
            if stop_key is not None and key >= stop_key:
                return
            excluded = key in exdates
            if excluded and not include_excluded:
                continue
            if timed:  # Series.span, inlined for the common case
                s_utc, e_utc = key, key + duration
            else:
                s_utc, e_utc = series.span(key, member[1])
            if we is not None and s_utc >= we:
                continue
            if ws is not None and not (e_utc > ws or ws <= s_utc == e_utc):
                continue
            yield _occurrence(series, index, member, s_utc, e_utc, excluded)
    except OverflowError:
        return  # an instance past year 9999: nothing later is representable


def expand(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence | None,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    floating_zone: tzinfo = UTC,
    limit: int = DEFAULT_LIMIT,
    include_excluded: bool = False,
) -> Expansion:
    """At most ``limit`` occurrences in the window; ``truncated`` if more exist."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    found = tuple(
        itertools.islice(
            iter_occurrences(
                start,
                end,
                recurrence,
                window_start=window_start,
                window_end=window_end,
                floating_zone=floating_zone,
                include_excluded=include_excluded,
            ),
            limit + 1,
        )
    )
    return Expansion(found[:limit], len(found) > limit)


def find_occurrence(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence | None,
    original_start: TimeValue,
    *,
    floating_zone: tzinfo = UTC,
) -> Occurrence | None:
    """The occurrence whose original start is ``original_start``, or None.

    An EXDATEd one is returned with ``excluded=True`` (a cancelled instance);
    a value of another kind than the series' start is never an occurrence.
    Timed values match by instant, whatever zone they are shown in.
    """
    series = Series.build(start, end, recurrence, floating_zone=floating_zone)
    try:
        target, wall, _ = series.member(original_start)
    except ValueError:
        return None
    from_wall: datetime | None
    to_wall: datetime | None
    try:
        from_wall = datetime.combine(wall.date() - timedelta(days=2), time())
        to_wall = wall + timedelta(days=2)
    except OverflowError:
        from_wall = to_wall = None
    for index, member in series.walk(from_wall, to_wall):
        key = member[0]
        if key > target:
            return None
        if key == target:
            s_utc, e_utc = series.span(key, member[1])
            return _occurrence(series, index, member, s_utc, e_utc, key in series.exdates)
    return None


def is_occurrence(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence | None,
    original_start: TimeValue,
    *,
    floating_zone: tzinfo = UTC,
) -> bool:
    """Whether ``original_start`` is a (not EXDATEd) occurrence of the series.

    ``floating_zone`` only supplies the zone of a ``date_time`` start without
    ``time_zone``: identities never depend on it.
    """
    found = find_occurrence(start, end, recurrence, original_start, floating_zone=floating_zone)
    return found is not None and not found.excluded


def occurrence_at(
    start: common_pb2.EventTime,
    end: common_pb2.EventTime | None,
    recurrence: event_service_pb2.Recurrence | None,
    index: int,
    *,
    floating_zone: tzinfo = UTC,
    limit: int = DEFAULT_LIMIT,
) -> Occurrence | None:
    """The member at 1-based ``index`` (maybe ``excluded``), None past the end.

    Indices above ``limit`` raise `ValueError` rather than walking an endless
    series that far.
    """
    if not 1 <= index <= limit:
        raise ValueError(f"index must be between 1 and {limit}")
    series = Series.build(start, end, recurrence, floating_zone=floating_zone)
    for i, member in series.walk():
        if i == index:
            s_utc, e_utc = series.span(member[0], member[1])
            return _occurrence(series, i, member, s_utc, e_utc, member[0] in series.exdates)
    return None


def _occurrence(
    series: Series,
    index: int,
    member: Member,
    start_utc: datetime,
    end_utc: datetime,
    excluded: bool,
) -> Occurrence:
    key, wall, local = member
    original: TimeValue
    end: TimeValue
    if series.zone is not None:
        original = local
        end = end_utc.astimezone(series.end_zone or series.zone)
        suffix = "%04d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031 -- the fastest here
            key.year,
            key.month,
            key.day,
            key.hour,
            key.minute,
            key.second,
        )
    elif series.kind is TimeKind.FLOATING:
        original, end = wall, wall + series.duration
        suffix = occurrence_key(original)
    else:
        original = wall.date()
        end = original + series.duration
        suffix = occurrence_key(original)
    return Occurrence(original, end, start_utc, end_utc, index, suffix, excluded)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    return value.astimezone(UTC)


def _local_date(series: Series, instant: datetime) -> date:
    return instant.astimezone(series.zone or series.floating_zone).date()


def _skip_point(series: Series, window_start: datetime | None) -> datetime | None:
    # A wall clock safely before the first member that can end after
    # window_start: two days of slack cover any offset change.
    if window_start is None:
        return None
    try:
        earliest = window_start - series.duration
        day = _local_date(series, earliest) - timedelta(days=2)
    except OverflowError:
        return None
    return datetime.combine(day, time())


def _horizon(series: Series, window_end: datetime | None) -> datetime | None:
    # The wall clock past which no RRULE candidate can start in the window.
    if window_end is None:
        return None
    try:
        local = window_end.astimezone(series.zone or series.floating_zone)
        return local.replace(tzinfo=None) + timedelta(days=2)
    except OverflowError:
        return None


def _stop_key(series: Series, window_end: datetime | None) -> datetime | None:
    # Timed keys are the start instants: stop right at window_end. All-day
    # and floating keys are wall clocks whose instants depend on the
    # floating zone, so stop two days of wall clock later and filter.
    if window_end is None:
        return None
    if series.zone is not None:
        return window_end
    try:
        local = window_end.astimezone(series.floating_zone).replace(tzinfo=None)
        return local + timedelta(days=2)
    except OverflowError:
        return None
