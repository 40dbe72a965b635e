"""Raw candidates of one RRULE, as naive wall-clock datetimes.

"Raw" means before the expander's own filters: nonexistent local times
(shifted by the gap, duplicates dropped), COUNT and UNTIL (applied
by the expander, because dropped
instances must not count, RFC 5545 §3.3.10). Candidates are ascending and
never before DTSTART, and the k-th one (0-based) is `iter_from(k)`'s first.

Two implementations:

* `PeriodicRule`, for rules whose instances repeat with a fixed period
  (HOURLY, DAILY and WEEKLY without month or year filters: every week of
  ``FREQ=WEEKLY;BYDAY=MO,WE`` looks the same). Its instances are arithmetic,
  so it can jump to any point and count what came before in O(1); that is
  what keeps "instance N" cheap for a series started years ago.
* `DateutilRule`, for everything else (MONTHLY, YEARLY, BYMONTH,
  BYMONTHDAY, ordinals ...), a dateutil `rrule` without COUNT and UNTIL,
  which can only be walked from DTSTART.

`raw_source` picks one. Both are checked against each other by the tests.
"""

from __future__ import annotations

import functools
import itertools
import math
from bisect import bisect_left
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Literal

from dateutil.rrule import rrule, weekday

from connectors.recurrence.rules import Freq, RuleSpec

__all__ = ["DateutilRule", "PeriodicRule", "RawRule", "raw_source"]


class RawRule:
    """Interface of a raw candidate source (see the module docstring)."""

    def iter_from(self, k: int) -> Iterator[datetime]:
        """Candidates from the k-th on (0-based)."""
        raise NotImplementedError

    def count_before(self, wall: datetime) -> int | None:
        """How many candidates are ``< wall``; None when only a walk can tell."""
        return None

    def contains(self, wall: datetime) -> bool | None:
        """Whether ``wall`` is a candidate; None when only a walk can tell."""
        return None


class PeriodicRule(RawRule):
    """Candidates ``base + q * period + offset`` for q >= 0, not before dtstart."""

    def __init__(
        self, dtstart: datetime, base: datetime, period: timedelta, offsets: tuple[timedelta, ...]
    ) -> None:
        self.dtstart = dtstart
        self.base = base
        self.period = period
        self.offsets = offsets
        self._offset_set = frozenset(offsets)
        # Candidates of the first period that dateutil drops (before DTSTART).
        self.skip = bisect_left(offsets, dtstart - base)

    def iter_from(self, k: int) -> Iterator[datetime]:
        if not self.offsets:
            return
        q, i = divmod(k + self.skip, len(self.offsets))
        period_start = self.base + q * self.period
        try:
            while True:
                for offset in self.offsets[i:]:
                    yield period_start + offset
                i = 0
                period_start += self.period
        except OverflowError:  # past year 9999
            return

    def count_before(self, wall: datetime) -> int:
        if wall <= self.dtstart or not self.offsets:
            return 0
        q, rem = divmod(wall - self.base, self.period)
        return q * len(self.offsets) + bisect_left(self.offsets, rem) - self.skip

    def contains(self, wall: datetime) -> bool:
        return wall >= self.dtstart and (wall - self.base) % self.period in self._offset_set


# Indexed by Freq (whose values are dateutil's FREQ constants).
_DATEUTIL_FREQ: tuple[Literal[0, 1, 2, 3, 4, 5, 6], ...] = (0, 1, 2, 3, 4, 5, 6)


class DateutilRule(RawRule):
    """A dateutil `rrule` over naive wall-clock times, COUNT and UNTIL removed."""

    def __init__(self, spec: RuleSpec, dtstart: datetime) -> None:
        byday = [weekday(d.weekday, d.n) for d in spec.byday] or None
        self.rule = rrule(
            _DATEUTIL_FREQ[spec.freq],
            dtstart=dtstart,
            interval=spec.interval,
            # dateutil's own default is calendar.firstweekday(), global state.
            wkst=spec.week_start,
            bysetpos=spec.bysetpos or None,
            bymonth=spec.bymonth or None,
            bymonthday=spec.bymonthday or None,
            byyearday=spec.byyearday or None,
            byweekno=spec.byweekno or None,
            byweekday=byday,
            byhour=spec.byhour or None,
            byminute=spec.byminute or None,
            bysecond=spec.bysecond or None,
            cache=False,
        )

    def iter_from(self, k: int) -> Iterator[datetime]:
        return itertools.islice(iter(self.rule), k, None)


_BY_PARTS = (
    "bymonth", "byweekno", "byyearday", "bymonthday", "byday",
    "byhour", "byminute", "bysecond", "bysetpos",
)  # fmt: skip
_PERIODIC_PARTS = frozenset({"byday", "byhour", "byminute", "bysecond", "bysetpos"})


def raw_source(spec: RuleSpec, dtstart: datetime, *, periodic: bool = True) -> RawRule:
    """The raw candidate source of ``spec`` anchored at wall-clock ``dtstart``.

    ``periodic=False`` forces dateutil (the tests compare the two).
    """
    if periodic:
        fast = _periodic(spec, dtstart)
        if fast is not None:
            return fast
    return DateutilRule(spec, dtstart)


def _periodic(spec: RuleSpec, dtstart: datetime) -> PeriodicRule | None:
    layout = _layout(spec, dtstart.weekday(), dtstart.hour, dtstart.minute, dtstart.second)
    if layout is None:
        return None
    period, offsets, back = layout
    if back is None:  # HOURLY: periods start at DTSTART itself
        return PeriodicRule(dtstart, dtstart, period, offsets)
    base = datetime.combine(dtstart.date(), time()) - timedelta(days=back)
    return PeriodicRule(dtstart, base, period, offsets)


# Cached: thousands of series share a handful of (rule, weekday, time) shapes.
@functools.lru_cache(maxsize=4096)
def _layout(
    spec: RuleSpec, weekday: int, hour: int, minute: int, second: int
) -> tuple[timedelta, tuple[timedelta, ...], int | None] | None:
    """(period, offsets from the first period's start, days from DTSTART's
    midnight back to that start; None for HOURLY), or None if not periodic."""
    used = {name for name in _BY_PARTS if getattr(spec, name)}
    if not used <= _PERIODIC_PARTS or any(d.n is not None for d in spec.byday):
        return None
    n = spec.interval
    if spec.freq is Freq.HOURLY:
        return None if used else (timedelta(hours=n), (timedelta(0),), None)
    if spec.freq not in (Freq.DAILY, Freq.WEEKLY):
        return None
    # The times of day every instance has: BYHOUR x BYMINUTE x BYSECOND, each
    # defaulting to DTSTART's (dateutil and RFC 5545 alike).
    times = sorted(
        timedelta(hours=h, minutes=m, seconds=s)
        for h in spec.byhour or (hour,)
        for m in spec.byminute or (minute,)
        for s in spec.bysecond or (second,)
    )
    if spec.freq is Freq.DAILY:
        # Each period is one day; BYSETPOS picks among that day's times.
        times = _setpos(times, spec.bysetpos)
        if not spec.byday:
            return timedelta(days=n), tuple(times), 0
        # DAILY with a BYDAY filter repeats every lcm(interval, 7) days.
        days = math.lcm(n, 7)
        allowed = {d.weekday for d in spec.byday}
        day_offsets = [k for k in range(0, days, n) if (weekday + k) % 7 in allowed]
        offsets = tuple(timedelta(days=k) + t for k in day_offsets for t in times)
        return timedelta(days=days), offsets, 0
    # WEEKLY: periods are weeks starting on WKST; BYDAY defaults to DTSTART's
    # weekday. BYSETPOS stays with dateutil: it applies it to the *rest* of
    # DTSTART's week only (its first period starts on DTSTART's day), and the
    # two implementations must agree.
    if spec.bysetpos:
        return None
    week_start = spec.week_start
    weekdays = sorted({d.weekday for d in spec.byday} or {weekday})
    candidates = sorted(timedelta(days=(wd - week_start) % 7) + t for wd in weekdays for t in times)
    return timedelta(weeks=n), tuple(candidates), (weekday - week_start) % 7


def _setpos(candidates: list[timedelta], positions: tuple[int, ...]) -> list[timedelta]:
    if not positions:
        return candidates
    picked = {
        candidates[p - 1 if p > 0 else p]
        for p in positions
        if -len(candidates) <= p <= len(candidates)
    }
    return sorted(picked)
