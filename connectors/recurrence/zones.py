"""UTC-offset transitions of a zone: where local wall-clock time jumps.

The one transition finder of Almanac (the ICS VTIMEZONE writer uses it too).
`zoneinfo` answers "what is the offset at this instant" but lists no
transitions, and they are needed in three places:

* counting, without generating them, how many instances of a series fell in
  a spring-forward gap and were dropped as duplicates (see
  `connectors.recurrence.series`);
* turning a UTC ``UNTIL`` that lands in the second pass of a fall-back
  overlap into a wall-clock bound;
* writing a VTIMEZONE for an IANA zone (`connectors.ical.vtimezone`), which
  also needs changes of the DST flag or abbreviation alone.

Changes are found by sampling the zone's state daily and bisecting to the
second where it changed. A change and its reversal within one day would
hide each other; no zone in the tz database has had one in the era
calendars care about. Results are cached per (zone, year) for the life of
the process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = [
    "Change",
    "State",
    "Transition",
    "changes",
    "changes_between",
    "gaps_between",
    "iter_gaps",
    "overlap_end",
    "state",
    "transitions",
]

_STEP = timedelta(days=1)
_SECOND = timedelta(seconds=1)


class State(NamedTuple):
    """What a zone says at an instant."""

    offset: timedelta
    dst: bool
    name: str


class Change(NamedTuple):
    """A change of `State` at ``instant`` (aware UTC, its first second)."""

    instant: datetime
    before: State
    after: State

    @property
    def onset(self) -> datetime:
        """Local wall time of the change, in the offset before it (naive).

        This is how RFC 5545 expresses an observance's DTSTART: "the
        effective onset date and local time", with TZOFFSETFROM in effect.
        """
        return (self.instant + self.before.offset).replace(tzinfo=None)


class Transition(NamedTuple):
    """A change of UTC offset at ``instant`` (aware UTC)."""

    instant: datetime
    before: timedelta
    after: timedelta

    @property
    def wall_before(self) -> datetime:
        """The local wall clock just reached when the change happens (naive)."""
        return (self.instant + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        """The local wall clock right after the change (naive)."""
        return (self.instant + self.after).replace(tzinfo=None)


def state(zone: tzinfo, instant: datetime) -> State:
    """The zone's state at an aware instant."""
    local = instant.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    return State(offset, bool(local.dst()), local.tzname() or "")


@functools.lru_cache(maxsize=4096)
def changes(zone: tzinfo, year: int) -> tuple[Change, ...]:
    """Every change of state of ``zone`` whose instant falls in ``year`` (UTC)."""
    # Years 1 and 9999 are left out: shifting their ends into a zone can
    # leave datetime's range, and no calendar needs their transitions.
    if zone is UTC or not 2 <= year <= 9998:
        return ()
    at = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found: list[Change] = []
    current = state(zone, at)
    while at < end:
        nxt = min(at + _STEP, end)
        following = state(zone, nxt)
        if following != current:
            found.extend(_bisect(zone, at, nxt, current, following))
        at, current = nxt, following
    return tuple(found)


def _bisect(zone: tzinfo, lo: datetime, hi: datetime, before: State, after: State) -> list[Change]:
    # Invariant: state(lo) == before, state(hi) == after; ends at 1 s. Two
    # changes within one step (a name change next to an offset change) are
    # found by bisecting each half again.
    while hi - lo > _SECOND:
        mid = (lo + (hi - lo) // 2).replace(microsecond=0)
        now = state(zone, mid)
        if now == before:
            lo = mid
        elif now == after:
            hi = mid
        else:
            return _bisect(zone, lo, mid, before, now) + _bisect(zone, mid, hi, now, after)
    return [Change(hi, before, after)]


def changes_between(zone: tzinfo, start: datetime, end: datetime) -> list[Change]:
    """Every change of state of ``zone`` in ``[start, end)`` (aware datetimes)."""
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    return [
        change
        for year in range(first.year, last.year + 1)
        for change in changes(zone, year)
        if first <= change.instant < last
    ]


# The Gregorian calendar repeats every 400 years to the weekday (146,097
# days), and past its explicit transitions (the last, Morocco's, end in 2087)
# a tzdata zone follows its POSIX rule for ever, so a far year's transitions
# are those of 400 years earlier, shifted: no day-by-day scan of each of the
# thousands of years a far-future window spans. Only for ZoneInfo: a custom
# VTIMEZONE may have a rule that does not repeat every 400 years.
_CYCLE_YEARS = 400
_CYCLE = timedelta(days=146_097)
_PERIODIC_FROM = 2500


@functools.lru_cache(maxsize=4096)
def transitions(zone: tzinfo, year: int) -> tuple[Transition, ...]:
    """The UTC offset changes of ``zone`` whose instant falls in ``year`` (UTC)."""
    if year >= _PERIODIC_FROM and isinstance(zone, ZoneInfo):
        earlier = transitions(zone, year - _CYCLE_YEARS)
        return tuple(t._replace(instant=t.instant + _CYCLE) for t in earlier)
    return tuple(
        Transition(c.instant, c.before.offset, c.after.offset)
        for c in changes(zone, year)
        if c.before.offset != c.after.offset
    )


def gaps_between(zone: tzinfo, start: datetime, stop: datetime) -> list[tuple[datetime, datetime]]:
    """Spring-forward gaps ``[first missing wall time, first existing one)``.

    Naive wall-clock intervals of ``zone`` that overlap ``[start, stop)``
    (naive wall-clock bounds too), in order.
    """
    return list(iter_gaps(zone, start, stop))


def iter_gaps(zone: tzinfo, start: datetime, stop: datetime) -> Iterator[tuple[datetime, datetime]]:
    """`gaps_between`, one at a time: a caller that stops early spares computing
    the transitions of every later year (about 10 ms a year)."""
    if zone is UTC or stop <= start:
        return
    for year in range(max(2, start.year - 1), min(9998, stop.year + 1) + 1):
        for gap in _year_gaps(zone, year):
            if gap[1] > start and gap[0] < stop:
                yield gap


@functools.lru_cache(maxsize=4096)
def _year_gaps(zone: tzinfo, year: int) -> tuple[tuple[datetime, datetime], ...]:
    return tuple(
        (tr.wall_before, tr.wall_after) for tr in transitions(zone, year) if tr.after > tr.before
    )


def overlap_end(zone: tzinfo, instant: datetime) -> datetime | None:
    """For an instant in the *second* pass of a fall-back overlap, the naive
    wall time at which the overlap ends; None otherwise.

    Every wall time before that end, read as its first occurrence (RFC 5545
    §3.3.5), is an instant no later than ``instant``.
    """
    local = instant.astimezone(zone)
    if not local.fold:
        return None
    for tr in transitions(zone, instant.year) + transitions(zone, instant.year - 1):
        if tr.after < tr.before and tr.instant <= instant < tr.instant + (tr.before - tr.after):
            return tr.wall_before
    return None
