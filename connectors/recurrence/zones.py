"""UTC-offset transitions of a zone: where local wall-clock time jumps.

`zoneinfo` answers "what is the offset at this instant" but does not list its
transitions, and the expander needs them in two places:

* counting, without generating them, how many instances of a series fell in a
  spring-forward gap before some point (they are skipped and not counted, see
  `connectors.recurrence.expand`), and
* turning a UTC ``UNTIL`` that lands in the second pass of a fall-back overlap
  into a wall-clock bound.

Transitions are found by sampling the offset every three days of a year and
bisecting to the second where it changed. Two transitions less than three
days apart could hide each other; tzdata since 1970 has none closer than a
week (the closest pairs: Brazil, October 2000, checked over every zone), and
a miss could only shift an instance index, never an instant (each generated
instance's existence is checked directly). Results are cached per (zone,
year) for the life of the process.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

__all__ = ["Transition", "gaps_between", "overlap_end", "transitions"]

_STEP = timedelta(days=3)


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


def _offset(zone: tzinfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    return timedelta(0) if offset is None else offset


@functools.lru_cache(maxsize=4096)
def transitions(zone: tzinfo, year: int) -> tuple[Transition, ...]:
    """The offset changes of ``zone`` whose instant falls in ``year`` (UTC)."""
    # Years 1 and 9999 are left out: shifting their ends into a zone can
    # leave datetime's range, and no calendar needs their transitions.
    if zone is UTC or not 2 <= year <= 9998:
        return ()
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found: list[Transition] = []
    offset = _offset(zone, t)
    while t < end:
        nxt = min(t + _STEP, end)
        nxt_offset = _offset(zone, nxt)
        if nxt_offset != offset:
            found.append(_bisect(zone, t, nxt, offset, nxt_offset))
        t, offset = nxt, nxt_offset
    return tuple(found)


def _bisect(
    zone: tzinfo, lo: datetime, hi: datetime, before: timedelta, after: timedelta
) -> Transition:
    # Invariant: offset(lo) == before, offset(hi) == after; ends at 1 s.
    second = timedelta(seconds=1)
    while hi - lo > second:
        mid = (lo + (hi - lo) // 2).replace(microsecond=0)
        if _offset(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return Transition(hi, before, after)


def gaps_between(zone: tzinfo, start: datetime, stop: datetime) -> list[tuple[datetime, datetime]]:
    """Spring-forward gaps ``[first missing wall time, first existing one)``.

    Naive wall-clock intervals of ``zone`` that overlap ``[start, stop)``
    (naive wall-clock bounds too), in order.
    """
    if zone is UTC or stop <= start:
        return []
    return [
        gap
        for year in range(max(2, start.year - 1), min(9998, stop.year + 1) + 1)
        for gap in _year_gaps(zone, year)
        if gap[1] > start and gap[0] < stop
    ]


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
